"""The FastAPI application: static files, the HTML pages, the ingest API, error pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from saferoad._version import __version__
from saferoad.application.device_ingest import IngestError
from saferoad.application.web import LoginThrottle, NotFound
from saferoad.config import SaferoadConfig
from saferoad.entrypoints.web import ingest_api, pages
from saferoad.entrypoints.web.common import LoginRequired, templates
from saferoad.ports.store import Store

STATIC = Path(__file__).with_name("static")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


class SecurityHeaders:
    """Adds SECURITY_HEADERS to every HTTP answer that does not set them itself (a plain ASGI
    middleware: Starlette's BaseHTTPMiddleware costs a task and a stream per request)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                have = {k.lower() for k, _ in headers}
                message["headers"] = [*headers, *(h for h in SECURITY_HEADERS if h[0] not in have)]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(store: Store, config: SaferoadConfig) -> FastAPI:
    app = FastAPI(
        title="saferoad",
        version=__version__,
        summary="Device ingest API of the saferoad fleet web app (contract v1).",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.store = store
    app.state.config = config
    app.state.throttle = LoginThrottle(config.web.login_max_failures, config.web.login_window_s)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    app.add_middleware(SecurityHeaders)

    app.include_router(ingest_api.router)
    app.include_router(pages.router)

    @app.exception_handler(LoginRequired)
    def _login(request: Request, exc: LoginRequired) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(NotFound)
    def _not_found(request: Request, exc: NotFound) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html.j2",
            {"user": None, "code": 404, "message": "Not found"},
            status_code=404,
        )

    @app.exception_handler(pages.CsrfForbidden)
    def _csrf(request: Request, exc: pages.CsrfForbidden) -> Response:
        return templates.TemplateResponse(
            request,
            "error.html.j2",
            {
                "user": None,
                "code": 403,
                "message": "The form was stale (CSRF check): reload the page.",
            },
            status_code=403,
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        first: dict[str, Any] = dict(exc.errors()[0]) if exc.errors() else {"msg": "invalid"}
        if first.get("type") == "json_invalid":
            why = (first.get("ctx") or {}).get("error", "decode error")
            return JSONResponse({"detail": f"body: not valid JSON ({why})"}, status_code=422)
        loc = list(first.get("loc", ()))
        kind = {"header": "header", "path": "path", "query": "query"}.get(
            str(loc[0]) if loc else "", "field"
        )
        if loc and loc[0] in ("body", "header", "path", "query"):
            loc = loc[1:]
        where = ".".join(str(p) for p in loc) or "body"
        return JSONResponse(
            {"detail": f"{kind} '{where}': {first.get('msg', 'invalid')}"}, status_code=422
        )

    @app.exception_handler(IngestError)
    def _ingest_error(request: Request, exc: IngestError) -> Response:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(404)
    def _missing(request: Request, exc: Exception) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return HTMLResponse(
            templates.get_template("error.html.j2").render(
                request=request, user=None, code=404, message="Not found"
            ),
            status_code=404,
        )

    return app
