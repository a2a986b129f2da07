"""HTTP and Lambda adapter of edge-encoders: the FastAPI app (handler.app), served by uvicorn or Mangum."""
