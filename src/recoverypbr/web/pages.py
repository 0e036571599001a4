"""Rendering pages: the templates, the navigation each role sees, and the CSRF check every form goes through."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from recoverypbr import __version__
from recoverypbr.web.sessions import same_token

TEMPLATES = Jinja2Templates(directory=Path(str(files("recoverypbr.web") / "templates")))
TEMPLATES.env.autoescape = True

#: Role -> the service navigation: (label, path).
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    "commissioner": [("Dashboard", "/dashboard"), ("Contract", "/contract"), ("Statements", "/statements"),
                     ("Loads", "/loads"), ("Quarantine", "/quarantine"), ("Reports", "/reports")],
    "finance": [("Statements", "/statements"), ("Adjustments", "/adjustments"), ("Contract", "/contract")],
    "lasars": [("Assessments", "/assessments"), ("Disagreements", "/assessments/disagreements"),
               ("Contract", "/contract")],
    "provider": [("Clients", "/clients"), ("Statements", "/statements"), ("Quarantine", "/quarantine"),
                 ("Upload", "/upload")],
    "auditor": [("Statements", "/statements"), ("Audit", "/audit"), ("Clients", "/clients"), ("Loads", "/loads"),
                ("Quarantine", "/quarantine"), ("Audit log", "/audit-log")],
}
#: Where each role starts after signing in.
HOME = {role: items[0][1] for role, items in NAVIGATION.items()}


def pounds(value: Any) -> str:
    """'1234.5' -> '£1,234.50'; empty for nothing."""
    if value in (None, ""):
        return ""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return str(value)
    sign = "-" if amount < 0 else ""
    return f"{sign}£{abs(amount):,.2f}"


TEMPLATES.env.filters["pounds"] = pounds


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page: the template with the viewer, their navigation and the session's CSRF token."""
    viewer = getattr(request.state, "viewer", None)
    session = getattr(request.state, "session", None)
    ctx = getattr(request.app.state, "web", None)
    path = request.url.path
    navigation = [
        {"text": label, "href": href, "current": path == href or (href != "/" and path.startswith(href + "/"))}
        for label, href in (NAVIGATION.get(viewer.role, []) if viewer else [])
    ]
    # The most specific matching item is the current one (Assessments vs Disagreements).
    currents = [n for n in navigation if n["current"]]
    for item in currents[:-1] if len(currents) > 1 else []:
        item["current"] = False
    base = {
        "request": request,
        "viewer": viewer,
        "navigation": navigation,
        "csrf_token": session.csrf if session else "",
        "area": ctx.contract.area if ctx else "",
        "version": __version__,
        "flash": session.flash[:] if session else [],
    }
    if session:
        session.flash.clear()
    return TEMPLATES.TemplateResponse(request, name, {**base, **context}, status_code=status_code)


def check_csrf(request: Request, token: str | None) -> None:
    """Refuse a form whose token is not this session's (a forged cross-site post, or a stale page)."""
    session = getattr(request.state, "session", None)
    if session is None or not same_token(token, session.csrf):
        raise HTTPException(403, "This form has expired or did not come from this service. Go back, reload the page "
                                 "and try again.")
