"""The FastAPI app: pages for every role and a JSON API, over one warehouse and one contract."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from recoverypbr import __version__
from recoverypbr.contract.load import load_contract
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.web.access import SignInRequired, current_viewer
from recoverypbr.web.context import Settings, WebContext
from recoverypbr.web.pages import render
from recoverypbr.web.sessions import COOKIE

log = logging.getLogger(__name__)
STATIC = Path(str(files("recoverypbr.web") / "static"))
BUILT = STATIC / "dist" / "app.css"


class AssetsMissing(RecoveryPbrError):
    pass


def check_assets() -> None:
    if not BUILT.exists():
        raise AssetsMissing(
            "the web app's styles are not built (GOV.UK Frontend comes from the npm registry)",
            hint="run `npm ci --prefix frontend && npm run build --prefix frontend` in the repository's folder",
        )


#: The Content-Security-Policy of every response: nothing from another origin, no inline script.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")


def create_app(settings: Settings) -> FastAPI:
    """The app for one warehouse and one contract; the warehouse opens when the app starts and closes when it
    stops."""
    check_assets()
    contract = load_contract(settings.contract)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = WebContext.open(settings, contract)
        app.state.web = ctx
        try:
            yield
        finally:
            ctx.close()

    app = FastAPI(
        title="recoverypbr",
        version=__version__,
        description="Payment by results for drug and alcohol recovery services: the JSON API behind the pages. Every "
        "call needs a signed-in session (the `recoverypbr_session` cookie from the sign-in form); a provider's "
        "calls return only its own rows.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def sessions_and_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        ctx: WebContext = request.app.state.web
        now = ctx.now()
        session = ctx.sessions.get(request.cookies.get(COOKIE), now)
        if session is None and request.method == "GET" and not request.url.path.startswith(("/static/", "/api/")):
            session = ctx.sessions.new(now)  # an anonymous session: the sign-in form's CSRF token lives in it
        request.state.session = session
        request.state.viewer = None
        response = await call_next(request)
        current = request.state.session  # sign-in and sign-out replace it
        if current is not None:
            response.set_cookie(COOKIE, current.session_id, httponly=True, secure=settings.secure_cookies,
                                samesite="lax", path="/")
        elif request.cookies.get(COOKIE):
            response.delete_cookie(COOKIE, path="/", secure=settings.secure_cookies, httponly=True, samesite="lax")
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInRequired)
    async def sign_in_required(request: Request, exc: SignInRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "Sign in first: the API uses the session of the sign-in form."}, 401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={quote(target, safe='/')}", 303)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith(("/api/", "/static/")):
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=getattr(exc, "headers", None))
        if getattr(request.state, "viewer", None) is None and getattr(request.state, "session", None) is not None:
            await run_in_threadpool(current_viewer, request)  # an unknown page still shows who is signed in
        return render(request, "error.html", {"status": exc.status_code, "message": exc.detail},
                      status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": _plain_errors(exc)}, 422)
        return render(request, "error.html", {"status": 400, "message": "The request was not understood: "
                                              + "; ".join(_plain_errors(exc))}, status_code=400)

    from recoverypbr.web.routes import register

    register(app)
    return app


def _plain_errors(exc: RequestValidationError) -> list[str]:
    return [f"{'.'.join(str(p) for p in e.get('loc', ()) if p not in ('query', 'path', 'body'))}: {e.get('msg')}"
            for e in exc.errors()]


def error_page(request: Request, status: int, message: str) -> Any:
    raise HTTPException(status, message)
