"""A provider's upload: a bad file gets a clear page and loads nothing; another provider's rows are refused; a good
upload loads and shows its summary; an upload with some bad rows loads the rest and keeps the bad ones aside for the
provider to see and download."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from web.web_area import WebArea, csrf

MakeClient = Callable[..., TestClient]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(64))


def _wh(client: TestClient) -> Any:
    return client.app.state.web.wh  # type: ignore[attr-defined]


def _counts(client: TestClient) -> dict[str, int]:
    wh = _wh(client)
    tables = [r[0] for r in wh.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                       "AND table_type = 'BASE TABLE' AND table_name <> 'audit_log' ORDER BY 1")]
    return {t: int(wh.execute(f'SELECT count(*) FROM "{t}"')[0][0]) for t in tables}


def _upload(client: TestClient, name: str, data: bytes, media: str = "text/csv") -> Any:
    token = csrf(client.get("/upload").text)
    return client.post("/upload", data={"csrf_token": token}, files={"extract": (name, data, media)})


def _rows(area: WebArea, table: str) -> tuple[list[str], list[dict[str, str]]]:
    with (area.folder / "extract" / f"{table}.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


def _csv(header: list[str], rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, header, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def _new_rows(client: TestClient, area: WebArea, provider: str, count: int = 2) -> dict[str, bytes]:
    """clients, episodes and TOPs of `count` clean clients of `provider`, copied with new ids (so they load as new)."""
    wh = _wh(client)
    chosen = [str(r[0]) for r in wh.execute(
        "SELECT client_id FROM episodes WHERE client_id IS NOT NULL GROUP BY client_id "
        "HAVING bool_and(provider_id = ?) AND client_id NOT IN (SELECT client_id FROM quarantine WHERE client_id "
        "IS NOT NULL) ORDER BY client_id LIMIT ?", [provider, count])]
    assert len(chosen) == count

    def renamed(value: str) -> str:
        return re.sub(r"^([A-Z])0", r"\g<1>9", value)

    files = {}
    for table, keys in (("clients", ("client_id",)), ("episodes", ("client_id", "episode_id")),
                        ("top", ("client_id", "episode_id", "top_id"))):
        header, rows = _rows(area, table)
        mine = [{**r, **{k: renamed(r[k]) for k in keys}} for r in rows if r["client_id"] in chosen]
        assert mine, table
        files[table] = _csv(header, mine)
    return files


def _zip(files: dict[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w") as z:
        for table, data in files.items():
            z.writestr(f"{table}.csv", data)
    return sink.getvalue()


def _refused(response: Any, status: int = 400) -> str:
    assert response.status_code == status, response.text[-2000:]
    assert "govuk-error-summary" in response.text and "There is a problem" in response.text
    found = re.search(r'govuk-error-summary__list"><li><a href="#extract">([^<]*)<', response.text)
    assert found
    return found.group(1)


@pytest.mark.parametrize(("name", "data", "says"), [
    ("extract.exe", b"MZ\x90\x00" + bytes(200), "not a file type an extract comes in"),
    ("episodes.csv", PNG, "binary data"),
    ("episodes.zip", b"client_id\nC1\n", "is not one"),
    ("episodes.xlsx", b"not a workbook", "is not one"),
    ("episodes.csv", b'"episode_id","client_id","provider_id"\n"E9000001,"C9000001","P01\n', "Nothing was loaded"),
    ("episodes.csv", bytes(range(1, 32)) * 20 + b"\xff\xfe\x80", "Nothing was loaded"),
    ("episodes.csv", b"E9000001,C0000001,P01,2014-01-01\nE9000002,C0000001,P01,2014-02-01\n", "Nothing was loaded"),
    ("notes.csv", b"a,b\n1,2\n", "no file named after a table"),
    ("episodes.csv", b"", "is empty"),
])
def test_a_bad_file_gets_a_clear_page_and_loads_nothing(name: str, data: bytes, says: str,
                                                        make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db)
    before = _counts(pat)
    message = _refused(_upload(pat, name, data))
    assert says in message
    assert "/tmp" not in message and "recoverypbr-upload" not in message  # the server's folders are its own
    assert _counts(pat) == before


def test_an_oversized_upload_is_refused_before_it_is_read(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db, max_upload=1024)
    before = _counts(pat)
    big = b"episode_id,client_id,provider_id\n" + b"E9000001,C0000001,P01\n" * 5000
    message = _refused(_upload(pat, "episodes.csv", big), 413)
    assert "too large" in message
    assert _counts(pat) == before


def test_a_zip_that_unpacks_too_large_is_refused(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db, max_upload=1024)
    before = _counts(pat)
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("episodes.csv", b"episode_id,client_id,provider_id\n" + b" " * 200_000)
    assert len(sink.getvalue()) < 1024
    message = _refused(_upload(pat, "episodes.zip", sink.getvalue(), "application/zip"))
    assert "unpacks to more than" in message
    assert _counts(pat) == before


def test_another_providers_rows_are_refused_and_nothing_loads(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db)
    before = _counts(pat)
    theirs = _new_rows(pat, web_db, "P02")
    message = _refused(_upload(pat, "extract.zip", _zip(theirs), "application/zip"))
    assert "not your clients" in message and "P02" in message
    # P02's own existing TOP rows sent as P01's
    header, rows = _rows(web_db, "top")
    p02 = {str(r[0]) for r in _wh(pat).execute("SELECT episode_id FROM episodes WHERE provider_id = 'P02'")}
    message = _refused(_upload(pat, "top.csv", _csv(header, [r for r in rows if r["episode_id"] in p02][:3])))
    assert "episodes that are not yours" in message
    assert _counts(pat) == before


def test_a_good_upload_loads_and_shows_its_summary(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db)
    before = _counts(pat)
    files = _new_rows(pat, web_db, "P01")
    page = _upload(pat, "extract.zip", _zip(files), "application/zip")
    assert page.status_code == 200, page.text[-2000:]
    assert "govuk-error-summary" not in page.text
    assert "Loaded" in page.text and "What was loaded" in page.text
    after = _counts(pat)
    new_episodes = files["episodes"].count(b"\n") - 1
    assert after["episodes"] == before["episodes"] + new_episodes
    assert after["clients"] == before["clients"] + 2
    assert after["loads"] == before["loads"] + 1
    assert after["quarantine"] == before["quarantine"]
    assert re.search(r"Load \d+: [\d,]+ rows read", page.text)


def test_some_bad_rows_load_the_rest_and_wait_in_quarantine(make_client: MakeClient, web_db: WebArea) -> None:
    pat = make_client("pat", area=web_db)
    before = _counts(pat)
    files = _new_rows(pat, web_db, "P01")
    header, _ = _rows(web_db, "episodes")
    text = files["episodes"].decode().splitlines()
    bad = next(csv.DictReader(io.StringIO("\n".join([text[0], text[1]]))))
    bad_id = bad["episode_id"]
    bad["start_date"] = "not a date"
    kept = [next(csv.DictReader(io.StringIO("\n".join([text[0], line])))) for line in text[2:]]
    files["episodes"] = _csv(header, [bad, *kept])
    page = _upload(pat, "extract.zip", _zip(files), "application/zip")
    assert page.status_code == 200, page.text[-2000:]
    assert "Rows kept aside, by reason" in page.text
    after = _counts(pat)
    assert after["episodes"] == before["episodes"] + len(kept)
    assert after["quarantine"] > before["quarantine"]
    quarantine = pat.get("/quarantine", params={"table": "episodes", "page": 1_000_000})  # the last page: the newest
    assert quarantine.status_code == 200 and "not a date" in quarantine.text
    download = pat.get("/quarantine/download")
    assert download.status_code == 200 and bad_id in download.text and "not a date" in download.text
    assert not _wh(pat).execute("SELECT 1 FROM episodes WHERE episode_id = ?", [bad_id])


def test_padded_ids_cannot_take_another_providers_episode_or_top(make_client: MakeClient, web_db: WebArea) -> None:
    # The ingest trims spaces, so " E1 " is E1: an episode id padded with spaces, claimed as P01's, would have moved
    # P02's episode (and its client and money) to P01; and a TOP sent under the id of P02's TOP would replace it.
    pat = make_client("pat", area=web_db)
    wh = _wh(pat)
    before = _counts(pat)
    header, rows = _rows(web_db, "episodes")
    p02 = next(r for r in rows if r["provider_id"] == "P02" and r["episode_id"].strip())
    taken = dict(p02, episode_id=f" {p02['episode_id']} ", provider_id="P01")
    message = _refused(_upload(pat, "episodes.csv", _csv(header, [taken])))
    assert "episode ids another provider holds" in message and p02["episode_id"] not in message
    assert wh.execute("SELECT provider_id FROM episodes WHERE episode_id = ?", [p02["episode_id"]]) == [("P02",)]
    top_header, tops = _rows(web_db, "top")
    p01_episode, p01_client = wh.execute("SELECT episode_id, client_id FROM episodes WHERE provider_id = 'P01' "
                                         "AND client_id IS NOT NULL ORDER BY episode_id LIMIT 1")[0]
    p02_top = wh.execute("SELECT t.top_id FROM top t JOIN episodes e USING (episode_id) WHERE e.provider_id = 'P02' "
                         "ORDER BY t.top_id LIMIT 1")[0][0]
    mine = dict(tops[0], top_id=p02_top, episode_id=p01_episode, client_id=p01_client)
    message = _refused(_upload(pat, "top.csv", _csv(top_header, [mine])))
    assert "reuse TOP ids another provider" in message
    assert _counts(pat) == before
