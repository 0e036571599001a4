"""A provider uploads a new extract: validated through the ordinary ingest, with its summary shown."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from recoverypbr.data.ingest import LoadResult
from recoverypbr.errors import RecoveryPbrError
from recoverypbr.web.access import Viewer, allow
from recoverypbr.web.context import WebContext
from recoverypbr.web.pages import check_csrf, render
from recoverypbr.web.upload_data import ACCEPTED, PROVIDER_TABLES, load_upload

router = APIRouter(include_in_schema=False)


def _load(ctx: WebContext, name: str, path: Path, provider_id: str, limit: int) -> LoadResult:
    with ctx.writing() as wh:
        return load_upload(wh, name, path, provider_id, limit)


def _form(request: Request, error: str = "", status: int = 200, result: object = None,
          reasons: object = ()) -> Response:
    ctx: WebContext = request.app.state.web
    return render(request, "upload.html", {
        "title": ("Error: " if error else "") + "Upload an extract", "error": error, "result": result,
        "reasons": reasons,
        "limit_mb": ctx.settings.max_upload // (1 << 20), "accepted": ", ".join(ACCEPTED),
        "tables": PROVIDER_TABLES}, status_code=status)


@router.get("/upload")
def upload_form(request: Request, viewer: Viewer = allow("provider", scope="own")) -> Response:
    return _form(request)


@router.post("/upload")
async def upload(request: Request, viewer: Viewer = allow("provider", scope="own")) -> Response:
    ctx: WebContext = request.app.state.web
    limit = ctx.settings.max_upload
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        return _form(request, "The upload did not say its size. Upload the file with the form on this page.", 411)
    if int(length) > limit + 64 * 1024:
        ctx.log(viewer.name, viewer.role, "upload refused", f"provider:{viewer.user.provider_id}", "too large")
        return _form(request, f"The file is too large: {int(length) / (1 << 20):.1f} MB, more than the "
                              f"{limit // (1 << 20)} MB limit. Split the extract into smaller uploads.", 413)
    async with request.form(max_files=1, max_fields=5) as form:
        check_csrf(request, str(form.get("csrf_token") or ""))
        item = form.get("extract")
        if not isinstance(item, UploadFile) or not item.filename:
            return _form(request, "Choose a file to upload.", 400)
        name = item.filename
        with tempfile.NamedTemporaryFile(prefix="recoverypbr-upload-", delete=False) as spooled:
            shutil.copyfileobj(item.file, spooled)
            path = Path(spooled.name)
    try:
        if path.stat().st_size == 0:
            return _form(request, f"{name} is empty. Choose the extract's file and upload it again.", 400)
        provider_id = viewer.user.provider_id or ""
        try:
            # The ingest runs in a worker thread: the server's event loop keeps serving other users meanwhile.
            result = await run_in_threadpool(_load, ctx, name, path, provider_id, limit)
        except RecoveryPbrError as exc:
            ctx.log(viewer.name, viewer.role, "upload refused", f"provider:{provider_id}", exc.message[:200])
            hint = f" {exc.hint[0].upper()}{exc.hint[1:]}." if exc.hint else ""
            return _form(request, f"Nothing was loaded: {exc.message}.{hint}", 400)
    finally:
        path.unlink(missing_ok=True)
    ctx.log(viewer.name, viewer.role, "upload", f"load:{result.load_id}",
            f"{result.rows_read} rows read, {result.rows_quarantined} kept aside")
    # Each reason in words, with one example: the rule ids alone mean little to a provider.
    reasons = ctx.wh.execute(
        "SELECT table_name, rule, count(DISTINCT file || '#' || row_number), min(reason) FROM quarantine "
        "WHERE load_id = ? GROUP BY table_name, rule ORDER BY table_name, rule", [result.load_id])
    return _form(request, result=result, reasons=reasons)
