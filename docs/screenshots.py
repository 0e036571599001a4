"""Screenshots of the web app for the README: `python docs/screenshots.py [--out docs/images]`.

Builds the small synthetic area the web tests use (two providers, a 2013-Q1 statement set, one user per role) in a
temporary folder, serves it on 127.0.0.1 and saves 1280-pixel-wide PNGs of what finance, a provider and the
commissioner see, signed in through the form in headless Chromium (Debian's /usr/bin/chromium, via Playwright).
Needs the built styles (`npm ci --prefix frontend && npm run build --prefix frontend`)."""

from __future__ import annotations

import argparse
import csv
import io
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from web.browser_helpers import browser_missing, serve, sign_in  # noqa: E402

from recoverypbr.contract.load import load_contract  # noqa: E402
from recoverypbr.data.ingest import load_extract  # noqa: E402
from recoverypbr.payments.cli import write_period_set  # noqa: E402
from recoverypbr.payments.run import make_statements, statement_period  # noqa: E402
from recoverypbr.payments.set_records import SetRecord  # noqa: E402
from recoverypbr.reports import FORMATS  # noqa: E402
from recoverypbr.synth import generate_area  # noqa: E402
from recoverypbr.warehouse.connection import open_warehouse  # noqa: E402
from recoverypbr.web.app import create_app  # noqa: E402
from recoverypbr.web.context import Settings  # noqa: E402
from recoverypbr.web.users import add_user  # noqa: E402

CONTRACT = ROOT / "contracts" / "marlshire.yaml"
PERIOD = "2013-Q1"
PASSWORD = "correct horse battery staple"
USERS = {"cora": ("commissioner", None), "fin": ("finance", None), "pat": ("provider", "P01")}
WIDTH, HEIGHT = 1280, 860


def build_area(folder: Path) -> Path:
    """The web tests' area: 400 synthetic clients (seed 7), loaded, 2013-Q1 paid into a statement set, users."""
    model = load_contract(CONTRACT)
    generate_area(400, 7, folder / "extract", "csv", dirty=True, contract=model)
    db = folder / "recoverypbr.duckdb"
    at = datetime(2026, 1, 5, tzinfo=UTC)
    with open_warehouse(db) as wh:
        load_extract(wh, folder / "extract")
        period = statement_period(model, PERIOD)
        made = make_statements(wh, model, period, period.end)
        write_period_set(wh, model, period, SetRecord((folder / "statements").resolve(), period.end, None, FORMATS),
                         made, at)
        for name, (role, provider) in USERS.items():
            add_user(wh, name, role, provider, PASSWORD, at)
    return db


def upload_sample(folder: Path) -> bytes:
    """Twelve of P01's episodes, two of them broken (a discharge before its start, a discharge without a reason)."""
    with (folder / "extract" / "episodes.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["provider_id"] == "P01" and r["start_date"] and r["discharge_date"]][:12]
    rows[0]["discharge_reason"] = ""
    rows[1]["discharge_date"], rows[1]["start_date"] = "2010-01-01", "2012-06-01"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def take(out: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    saved: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="recoverypbr-screenshots-") as tmp:
        folder = Path(tmp)
        db = build_area(folder)
        app = create_app(Settings(db=db, contract=CONTRACT))
        with serve(app) as server, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])

            def page_for(user: str):  # type: ignore[no-untyped-def]
                context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
                page = context.new_page()
                sign_in(page, server.base, user)
                return page

            def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
                path = out / name
                page.screenshot(path=str(path), full_page=False)
                saved.append(path)

            finance = page_for("fin")
            finance.goto(f"{server.base}/statements/{PERIOD}/P01")
            shot(finance, "statement.png")

            provider = page_for("pat")
            cursor = app.state.web.warehouse.cursor()
            (client_id,), = cursor.execute(
                "SELECT client_id FROM outcome_ledger WHERE provider_id = 'P01' AND status = 'not_achieved' "
                "ORDER BY client_id LIMIT 1")
            cursor.close()
            provider.goto(f"{server.base}/clients/{client_id}")
            shot(provider, "client.png")
            provider.goto(f"{server.base}/upload")
            provider.set_input_files("#extract", files=[{"name": "episodes.csv", "mimeType": "text/csv",
                                                         "buffer": upload_sample(folder)}])
            with provider.expect_navigation():
                provider.click("button:has-text('Upload and check')")
            shot(provider, "upload.png")

            commissioner = page_for("cora")
            commissioner.goto(f"{server.base}/dashboard")
            if commissioner.locator(".govuk-service-navigation__link").count() == 0:  # no dashboard yet
                commissioner.goto(f"{server.base}/loads")
            shot(commissioner, "commissioner.png")
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images", help="folder for the PNGs")
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        raise SystemExit(missing)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in take(args.out):
        print(f"{path} ({path.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
