"""Sign in, sign out and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from recoverypbr.web.access import public
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import HOME, check_csrf, render
from recoverypbr.web.users import authenticate

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """A local path to go to after signing in; anything else (another site, `//host`, a scheme) goes home."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target


@router.get("/", dependencies=[public()])
def home(request: Request) -> Response:
    ctx: WebContext = request.app.state.web
    session = request.state.session
    user = ctx.user(session.user_name) if session and session.user_name else None
    if user is None or user.disabled:
        return RedirectResponse("/sign-in", 303)
    return RedirectResponse(HOME[user.role], 303)


@router.get("/sign-in", dependencies=[public()])
def sign_in_form(request: Request, next: str = "/") -> Response:
    ctx: WebContext = request.app.state.web
    return render(request, "sign_in.html", {"error": "", "user_name": "", "next": safe_next(next),
                                            "idle_minutes": int(ctx.settings.idle.total_seconds() // 60)})


@router.post("/sign-in", dependencies=[public()])
def sign_in(
    request: Request,
    user_name: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    check_csrf(request, csrf_token)
    ctx: WebContext = request.app.state.web
    now = ctx.now()
    address = request.client.host if request.client else "unknown"
    keys = [f"user:{user_name.lower()}", f"address:{address}"]
    idle = int(ctx.settings.idle.total_seconds() // 60)
    wait = ctx.attempts.blocked_for(keys, now)
    if wait is not None:
        minutes = max(1, int(wait.total_seconds() // 60) + 1)
        ctx.log(user_name[:64] or "-", "-", "sign-in refused", detail="too many attempts")
        return render(request, "sign_in.html", {
            "error": f"Too many sign-in attempts. Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            "user_name": user_name, "next": safe_next(next), "idle_minutes": idle}, status_code=429)
    user = authenticate(ctx.wh, user_name, password)
    if user is None:
        ctx.attempts.failed(keys, now)
        ctx.log(user_name[:64] or "-", "-", "sign-in failed")
        return render(request, "sign_in.html", {
            "error": "The user name or password is not right, or the user is disabled.", "user_name": user_name,
            "next": safe_next(next), "idle_minutes": idle}, status_code=401)
    ctx.attempts.succeeded(keys[:1])
    old = request.state.session
    if old is not None:
        ctx.sessions.end(old.session_id)
    request.state.session = ctx.sessions.new(now, user.user_name)  # a new id at sign-in: no session fixation
    ctx.log(user.user_name, user.role, "sign-in")
    target = safe_next(next)
    return RedirectResponse(HOME[user.role] if target == "/" else target, 303)


@router.post("/sign-out", dependencies=[public()])
def sign_out(request: Request, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Response:
    check_csrf(request, csrf_token)
    ctx: WebContext = request.app.state.web
    session = request.state.session
    if session is not None:
        if session.user_name:
            user = ctx.user(session.user_name)
            ctx.log(session.user_name, user.role if user else "-", "sign-out")
        ctx.sessions.end(session.session_id)
    request.state.session = None
    return RedirectResponse("/sign-in", 303)
