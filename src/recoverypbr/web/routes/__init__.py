"""Every router of the app, registered in one place (`register`)."""

from __future__ import annotations

from fastapi import FastAPI

ROUTERS = ("auth", "statements", "clients", "quarantine", "upload", "commissioner", "lasars", "auditor", "api")


def register(app: FastAPI) -> None:
    from importlib import import_module

    for name in ROUTERS:
        app.include_router(import_module(f"recoverypbr.web.routes.{name}").router)
