"""Who may use each route, and which rows they see: declared once per route, enforced here and in `data`.

Every route of the app declares an `Access`: the roles it serves and how its rows are scoped. The dependency made by
`allow` signs the caller in (or sends them to sign in), refuses a role the route does not serve with 403, and hands
the endpoint a `Viewer` whose `scope` the data layer applies to every query: a provider's scope is its provider id,
so no page, download or API response can reach another provider's rows whatever a template does. `public` marks the
few routes that need no sign-in (sign-in itself, static files, the OpenAPI document). `tests/web/test_isolation.py`
walks the whole route table and fails on a route that declares nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Depends, HTTPException, Request

from recoverypbr.web.users import ROLES, Role, User

#: How a route's rows are scoped: `own` = a provider sees only its own rows (others see all of the roles' rows);
#: `all` = every row (only for roles that may see every provider); `none` = the route shows no client-level rows.
ScopeKind = Literal["own", "all", "none"]
ACCESS_ATTR = "__recoverypbr_access__"


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    scope: ScopeKind
    public: bool = False


@dataclass(frozen=True)
class Scope:
    """The rows a viewer may see: `provider_id` None means every provider's."""

    provider_id: str | None

    @property
    def everyone(self) -> bool:
        return self.provider_id is None


@dataclass(frozen=True)
class Viewer:
    user: User
    scope: Scope
    session_id: str
    csrf: str

    @property
    def name(self) -> str:
        return self.user.user_name

    @property
    def role(self) -> str:
        return self.user.role


class SignInRequired(Exception):
    """Raised by `allow` for a visitor without a live session: pages redirect to sign in, the API answers 401."""


def allow(*roles: Role, scope: ScopeKind = "own") -> Any:
    """A dependency for a route serving `roles`, with rows scoped by `scope`."""
    unknown = set(roles) - set(ROLES)
    if unknown or not roles:
        raise ValueError(f"unknown roles {sorted(unknown)}")
    if scope == "all" and "provider" in roles:
        raise ValueError("a route scoped to every provider's rows cannot serve the provider role")
    access = Access(frozenset(roles), scope)

    def dependency(request: Request) -> Viewer:
        viewer = current_viewer(request)
        if viewer is None:
            raise SignInRequired()
        if viewer.role not in access.roles:
            raise HTTPException(403, f"Your role ({viewer.role}) cannot use this.")
        return viewer

    setattr(dependency, ACCESS_ATTR, access)
    return Depends(dependency)


def public() -> Any:
    """A dependency for a route anyone may reach (sign-in, static files, the OpenAPI document)."""

    def dependency(request: Request) -> Viewer | None:
        return current_viewer(request)

    setattr(dependency, ACCESS_ATTR, Access(frozenset(ROLES), "none", public=True))
    return Depends(dependency)


def current_viewer(request: Request) -> Viewer | None:
    """The signed-in viewer of this request, or None; a session whose user is gone or disabled ends here."""
    session = request.state.session
    if session is None or session.user_name is None:
        return None
    ctx = request.app.state.web
    user = ctx.user(session.user_name)
    if user is None or user.disabled:
        ctx.sessions.end(session.session_id)
        request.state.session = None
        return None
    viewer = Viewer(user, scope_for(user), session.session_id, session.csrf)
    request.state.viewer = viewer
    return viewer


def scope_for(user: User) -> Scope:
    return Scope(user.provider_id if user.role == "provider" else None)


def route_access(call: Callable[..., Any] | None) -> Access | None:
    return getattr(call, ACCESS_ATTR, None) if call is not None else None
