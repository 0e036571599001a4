"""The web app's users: a name, a role, for a provider its provider id, and an Argon2 hash of the password.

No password is ever stored, logged or defaulted: `add_user` and `reset_password` take one from the person adding
the user (the CLI prompts for it), and only `demo` makes users with a known password, in its own warehouse."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, get_args

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from recoverypbr.errors import RecoveryPbrError
from recoverypbr.warehouse.connection import Warehouse

Role = Literal["commissioner", "finance", "lasars", "provider", "auditor"]
ROLES: tuple[Role, ...] = get_args(Role)
#: Who does what, in words (the users list and the docs).
ROLE_WORDS: dict[str, str] = {
    "commissioner": "the contract's dashboard, load history and quarantine across providers, modelling and assurance",
    "finance": "statements, their lines and downloads, approval, adjustments",
    "lasars": "assessments, complexity groups and disagreements with providers' recorded groups",
    "provider": "its own clients, explanations, statements and quarantined rows; uploads its extracts",
    "auditor": "read-only across providers; audit samples and findings",
}
#: The shortest password accepted (NCSC: length over complexity rules).
MIN_PASSWORD = 12
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """A hash no password matches, checked for an unknown user (so a sign-in takes as long either way); made when
    first needed, not when every command starts (a hash takes a tenth of a second, by design)."""
    return _HASHER.hash("not a password of anyone's")


@dataclass(frozen=True)
class User:
    user_name: str
    role: Role
    provider_id: str | None
    disabled: bool


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise RecoveryPbrError(
            f"{name!r} is not a usable user name",
            hint="use 2 to 64 letters, digits, dots, dashes, underscores or @, starting with a letter or digit",
        )


def check_password(password: str, name: str = "") -> None:
    """Refuse a password that is too short or is the user's name."""
    if len(password) < MIN_PASSWORD:
        raise RecoveryPbrError(f"the password is too short ({len(password)} characters)",
                               hint=f"use at least {MIN_PASSWORD} characters; three random words work well")
    if name and password.lower() == name.lower():
        raise RecoveryPbrError("the password is the user's name", hint="choose another password")


def _check_role(wh: Warehouse, role: str, provider_id: str | None) -> None:
    if role not in ROLES:
        raise RecoveryPbrError(f"unknown role {role!r}", hint=f"use one of: {', '.join(ROLES)}")
    if role == "provider":
        if not provider_id:
            raise RecoveryPbrError("a provider user needs --provider", hint="name the provider id, e.g. --provider P01")
        known = [r[0] for r in wh.execute("SELECT provider_id FROM providers ORDER BY provider_id")]
        if known and provider_id not in known:
            raise RecoveryPbrError(f"unknown provider {provider_id!r}", hint=f"use one of: {', '.join(known)}")
    elif provider_id:
        raise RecoveryPbrError(f"--provider is only for the provider role, not {role}",
                               hint="leave --provider out")


def add_user(wh: Warehouse, name: str, role: str, provider_id: str | None, password: str, at: datetime) -> User:
    """Add a user; refuse a name in use, an unknown role or provider, or a weak password."""
    _check_name(name)
    _check_role(wh, role, provider_id)
    check_password(password, name)
    if wh.execute("SELECT 1 FROM web_users WHERE user_name = ?", [name]):
        raise RecoveryPbrError(f"there is already a user {name!r}", hint="choose another name, or use `users reset`")
    stamp = at.replace(tzinfo=None)
    wh.execute("INSERT INTO web_users VALUES (?, ?, ?, ?, false, ?, ?)",
               [name, role, provider_id if role == "provider" else None, _HASHER.hash(password), stamp, stamp])
    return User(name, role, provider_id if role == "provider" else None, False)  # type: ignore[arg-type]


def get_user(wh: Warehouse, name: str) -> User | None:
    rows = wh.execute("SELECT user_name, role, provider_id, disabled FROM web_users WHERE user_name = ?", [name])
    return User(*rows[0]) if rows else None


def list_users(wh: Warehouse) -> list[dict[str, object]]:
    rows = wh.execute("SELECT user_name, role, provider_id, disabled, created_at, password_set_at FROM web_users "
                      "ORDER BY user_name")
    keys = ("user_name", "role", "provider_id", "disabled", "created_at", "password_set_at")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def _require(wh: Warehouse, name: str) -> User:
    user = get_user(wh, name)
    if user is None:
        raise RecoveryPbrError(f"no user {name!r}", hint="`recoverypbr users list` shows the users")
    return user


def set_disabled(wh: Warehouse, name: str, disabled: bool) -> User:
    """Disable (or enable again) a user: a disabled user cannot sign in, and their open sessions end."""
    _require(wh, name)
    wh.execute("UPDATE web_users SET disabled = ? WHERE user_name = ?", [disabled, name])
    return _require(wh, name)


def reset_password(wh: Warehouse, name: str, password: str, at: datetime) -> None:
    _require(wh, name)
    check_password(password, name)
    wh.execute("UPDATE web_users SET password_hash = ?, password_set_at = ? WHERE user_name = ?",
               [_HASHER.hash(password), at.replace(tzinfo=None), name])


def authenticate(wh: Warehouse, name: str, password: str) -> User | None:
    """The user if the name and password match and the user is enabled, else None (the same work either way)."""
    rows = wh.execute("SELECT password_hash, disabled FROM web_users WHERE user_name = ?", [name])
    stored, disabled = rows[0] if rows else (_dummy_hash(), True)
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not rows or disabled:
        return None
    if _HASHER.check_needs_rehash(stored):
        wh.execute("UPDATE web_users SET password_hash = ? WHERE user_name = ?", [_HASHER.hash(password), name])
    return get_user(wh, name)
