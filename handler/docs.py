"""/docs that work offline: Swagger UI from files installed with the server extra, never from a CDN.

FastAPI's default /docs page loads Swagger UI from a CDN, so it is blank without internet (air-gapped boxes,
VPCs without egress). The `fastapi-offline` package ships the same assets; we serve its three files at fixed
paths. Where that package is absent (the Lambda image installs only what it serves), /docs is not offered and
the log says why. In Lambda /docs is off unless EDGE_DOCS=true (handler/settings.py).
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import FileResponse, HTMLResponse

log = logging.getLogger("handler")

ASSETS = {
    "/docs/swagger-ui-bundle.js": ("swagger-ui-bundle.js", "text/javascript"),
    "/docs/swagger-ui.css": ("swagger-ui.css", "text/css"),
    "/docs/favicon.png": ("favicon.png", "image/png"),
}
ASSET_PATHS = frozenset(ASSETS)


def asset_dir() -> Path | None:
    """The folder holding the Swagger UI files, or None when fastapi-offline is not installed."""
    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "static"
    return folder if all((folder / name).is_file() for name, _ in ASSETS.values()) else None


def install(app: FastAPI) -> bool:
    """Serve /docs from local assets (call with docs_url=None on the app); False when the assets are missing."""
    folder = asset_dir()
    if folder is None:
        log.warning("/docs is off: Swagger UI assets not installed (pip install fastapi-offline); /openapi.json works")
        return False
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            oauth2_redirect_url="/docs/oauth2-redirect",
            swagger_js_url="/docs/swagger-ui-bundle.js",
            swagger_css_url="/docs/swagger-ui.css",
            swagger_favicon_url="/docs/favicon.png",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    for path, (name, media_type) in ASSETS.items():
        app.add_api_route(path, _file_route(folder / name, media_type), methods=["GET"], include_in_schema=False)
    return True


def _file_route(path: Path, media_type: str):  # type: ignore[no-untyped-def]
    async def serve() -> FileResponse:
        return FileResponse(path, media_type=media_type, headers={"cache-control": "public, max-age=86400"})

    return serve
