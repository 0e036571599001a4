"""Each role's start page opens after signing in."""

from __future__ import annotations

from web.web_area import ROLE_USER


def test_each_role_signs_in_and_reaches_its_start_page(make_client) -> None:  # type: ignore[no-untyped-def]
    for role, user in ROLE_USER.items():
        client = make_client(user)
        page = client.get("/")
        assert page.status_code == 200, (role, page.status_code, page.text[:300])
        assert f"Signed in as <strong>{user}</strong>" in page.text
