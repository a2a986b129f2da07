"""`make bench`: edge_encoders against sentence-transformers (torch and ONNX backends) and fastembed.

Every system runs in its own subprocess (same texts, same thread count) so that imports, thread pools and
peak RSS of one system never leak into another's numbers. Entry point: `python -m bench`.
"""
