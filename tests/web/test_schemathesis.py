"""Schemathesis against the app's own OpenAPI document: every API operation, called with generated parameters as a
signed-in commissioner and as a provider (P01), answers no 5xx, only status codes its document lists, and bodies
that match the documented schema. Bounded: a few dozen examples per operation, derandomized in CI (the 'ci'
profile of tests/conftest.py).

The tests are generated from the document of an app made at import (making the app opens no warehouse; the
document does not depend on the data), and each call goes to the app serving the session-wide test area, whose
live /api/openapi.json is checked to be that same document. (schemathesis' lazy `from_fixture` loader does not
work with this pytest, so the schema is not loaded from a fixture.)"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import shutdown_lifespans
from web.web_area import CONTRACT, WebArea, sign_in

from recoverypbr.web.app import create_app
from recoverypbr.web.context import Settings
from recoverypbr.web.sessions import COOKIE

#: Examples per operation and role (the file runs in well under a minute once the area is built).
EXAMPLES = 20
#: The document, through JSON as the app serves it.
DOCUMENT = json.loads(json.dumps(create_app(Settings(db=Path("not-opened.duckdb"), contract=CONTRACT)).openapi()))
schema = schemathesis.openapi.from_dict(DOCUMENT)


@pytest.fixture(scope="module")
def api_app(web_area: WebArea) -> FastAPI:
    return create_app(Settings(db=web_area.db, contract=web_area.contract))


def signed_in(app: FastAPI, user: str) -> dict[str, str]:
    """Start the app the way schemathesis starts an ASGI app, check it serves the document the tests were made
    from, and sign in through the form: the session's cookie, for schemathesis' calls.

    schemathesis ends an app's lifespan (closing its warehouse, forgetting its sessions) when each test ends, so
    every test starts it and signs in afresh. The TestClient is not entered, so it uses the running app rather than
    starting another."""
    served = schemathesis.openapi.from_asgi("/api/openapi.json", app)
    assert served.raw_schema == DOCUMENT
    client = TestClient(app, base_url="https://testserver")
    sign_in(client, user)
    cookie = client.cookies.get(COOKIE)
    assert cookie
    return {COOKIE: cookie}


@pytest.fixture
def commissioner(api_app: FastAPI) -> Iterator[dict[str, str]]:
    yield signed_in(api_app, "cora")
    shutdown_lifespans()


@pytest.fixture
def provider(api_app: FastAPI) -> Iterator[dict[str, str]]:
    yield signed_in(api_app, "pat")
    shutdown_lifespans()


def call_and_check(case: Any, app: FastAPI, cookies: dict[str, str]) -> None:
    response = case.call(app=app, cookies=cookies)
    assert response.status_code < 500, (case.path, case.path_parameters, case.query, response.text[:500])
    assert response.status_code != 401, "the signed-in session was refused"
    case.validate_response(response, transport_kwargs={"app": app, "cookies": cookies})


#: The quarantine's parameters are only a table name and a page, and each call queries the whole quarantine (about
#: half a second), so it gets fewer examples.
QUARANTINE, FEW = "/api/quarantine", 8
most = schema.exclude(path=QUARANTINE)
quarantine = schema.include(path=QUARANTINE)


@most.parametrize()
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
def test_api_as_a_commissioner(case: Any, api_app: FastAPI, commissioner: dict[str, str]) -> None:
    call_and_check(case, api_app, commissioner)


@most.parametrize()
@settings(max_examples=EXAMPLES, suppress_health_check=list(HealthCheck))
def test_api_as_a_provider(case: Any, api_app: FastAPI, provider: dict[str, str]) -> None:
    call_and_check(case, api_app, provider)


@quarantine.parametrize()
@settings(max_examples=FEW, suppress_health_check=list(HealthCheck))
def test_quarantine_as_a_commissioner(case: Any, api_app: FastAPI, commissioner: dict[str, str]) -> None:
    call_and_check(case, api_app, commissioner)


@quarantine.parametrize()
@settings(max_examples=FEW, suppress_health_check=list(HealthCheck))
def test_quarantine_as_a_provider(case: Any, api_app: FastAPI, provider: dict[str, str]) -> None:
    call_and_check(case, api_app, provider)
