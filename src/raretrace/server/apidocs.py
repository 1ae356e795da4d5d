"""``/docs`` and ``/redoc``: the API reference, served whole from installed packages.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so on an air-gapped registry they are blank.
Here the scripts and the stylesheet come from the ``fastapi-offline`` package (which ships Swagger UI's
and ReDoc's release files on PyPI) and Swagger UI's start-up script from raretrace's own package data,
all under ``/docs/assets/``: the pages make no request off the server and have no inline script.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

#: what /docs/assets/ serves: name -> (package, path in it, media type); nothing else is readable there
ASSETS = {
    "swagger-ui-bundle.js": ("fastapi_offline", "static/swagger-ui-bundle.js", "application/javascript"),
    "swagger-ui.css": ("fastapi_offline", "static/swagger-ui.css", "text/css"),
    "redoc.standalone.js": ("fastapi_offline", "static/redoc.standalone.js", "application/javascript"),
    "favicon.png": ("fastapi_offline", "static/favicon.png", "image/png"),
    "docs-init.js": ("raretrace", "data/static/docs-init.js", "application/javascript"),
}

HEAD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
"""
SWAGGER = (
    HEAD
    + """<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head><body>
<div id="swagger-ui" data-openapi="{openapi}"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/docs-init.js"></script>
</body></html>
"""
)
REDOC = (
    HEAD
    + """</head><body>
<redoc spec-url="{openapi}"></redoc>
<script src="/docs/assets/redoc.standalone.js"></script>
</body></html>
"""
)


@lru_cache(maxsize=len(ASSETS))
def asset(name: str) -> bytes:
    package, path, _ = ASSETS[name]
    return resources.files(package).joinpath(path).read_bytes()


def install(app: FastAPI) -> None:
    """Mount ``/docs``, ``/redoc`` and their assets (the app is created with both URLs set to None)."""
    router = APIRouter(include_in_schema=False)
    names = {"title": app.title, "openapi": app.openapi_url or "/openapi.json"}
    pages = {"/docs": SWAGGER.format(**names), "/redoc": REDOC.format(**names)}
    for path, html in pages.items():
        router.add_api_route(path, lambda html=html: HTMLResponse(html), methods=["GET"])

    @router.get("/docs/assets/{name}")
    def docs_asset(name: str) -> Response:
        if name not in ASSETS:
            raise HTTPException(status_code=404, detail=f"no asset {name!r}")
        return Response(asset(name), media_type=ASSETS[name][2], headers={"Cache-Control": "max-age=86400"})

    app.include_router(router)
