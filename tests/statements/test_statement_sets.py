"""Statement sets on disk (issue 11, defects 3 and 8): a period's files are written whole or not at all, say what
the warehouse says after `approve`, and `recoverypbr verify` checks them."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli, synthetic_statement, words
from typer.testing import CliRunner

from recoverypbr.cli import app

runner = CliRunner()


class Killed(BaseException):
    """Stands for a kill: nothing in the program catches it (as nothing can catch SIGKILL)."""




def _pay(area: tuple[Path, Path], out: Path, *more: str) -> str:
    contract, db = area
    return run_cli("pay", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2", "--out", str(out), *more)


def _visible(out: Path) -> dict[str, bytes]:
    """Every file a person opening `out` finds (following links, not opening hidden folders): path -> bytes.
    Written so that it reads the flat folder of before statement sets as well as the sets."""
    found = {}
    for folder, dirs, files in os.walk(out, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(folder) / name
            found[str(path.relative_to(out))] = path.read_bytes()
    return found


def _statuses(out: Path) -> dict[str, str]:
    """File -> the status it says: each statement JSON's, and each row of each summary CSV."""
    said = {}
    for name, data in _visible(out).items():
        base = Path(name).name
        if base.startswith("statement_") and base.endswith(".json"):
            said[name] = json.loads(data)["status"]
        elif base.startswith("summary_"):
            for row in csv.DictReader(io.StringIO(data.decode())):
                said[f"{name}:{row['provider_id']}"] = row["status"]
    return said


def test_defect_3_a_pay_stopped_part_way_leaves_the_earlier_set_whole(
    area: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: pay wrote file after file into the folder, so a pay killed while writing P2's PDF left P1's files and
    # P2's CSV, JSON and XLSX from the new run beside P2's PDF and the summary from the old one.
    out = tmp_path / "statements"
    _pay(area, out, "--as-of", "2013-06-30")
    before = _visible(out)
    assert len(before) >= 9

    from recoverypbr.reports import pdf

    written = []
    real = pdf.statement_pdf

    def killed_on_the_second(document: dict[str, object], path: Path, **kwargs: object) -> None:
        written.append(path.name)
        if len(written) == 2:
            raise Killed
        real(document, path, **kwargs)

    monkeypatch.setattr(pdf, "statement_pdf", killed_on_the_second)
    contract, db = area
    with pytest.raises(Killed):
        runner.invoke(app, ["pay", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2", "--out",
                            str(out), "--as-of", "2013-07-15"], catch_exceptions=False)
    assert written == ["statement_P1_2013-Q2.pdf", "statement_P2_2013-Q2.pdf"]
    assert _visible(out) == before


def test_defect_8_approve_writes_the_folder_again_saying_approved(area: tuple[Path, Path], tmp_path: Path) -> None:
    # Before: the files pay wrote said "draft" after approve, until pay was run again.
    contract, db = area
    out = tmp_path / "statements"
    _pay(area, out)
    assert set(_statuses(out).values()) == {"draft"}
    done = run_cli("approve", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2", "--by", "Finance")
    statuses = _statuses(out)
    assert len(statuses) == 4 and set(statuses.values()) == {"approved"}, statuses
    assert "2013-Q2 again: P1 approved, P2 approved" in done
    checked = run_cli("verify", str(out))
    assert "OK" in checked and "P1 approved" in checked and "P2 approved" in checked


def test_approving_one_provider_writes_the_set_with_it_approved_and_the_other_still_draft(
    area: tuple[Path, Path], tmp_path: Path
) -> None:
    contract, db = area
    base = ["--contract", str(contract), "--db", str(db), "--period", "2013-Q2"]
    out, elsewhere = tmp_path / "statements", tmp_path / "for-provider"
    _pay(area, out, "--format", "csv,json")
    _pay(area, elsewhere, "--provider", "P1", "--as-of", "2013-07-31")
    fingerprint = json.loads((out / "2013-Q2" / "statement_P1_2013-Q2.json").read_text())["fingerprint"]
    done = run_cli("approve", *base, "--by", "Finance", "--provider", "P1", "--fingerprint", fingerprint[:12])
    assert f"{out / '2013-Q2'} again: P1 approved, P2 draft" in done
    assert f"{elsewhere / '2013-Q2'} again: P1 approved" in done
    # Each folder keeps what pay wrote there: its formats, its providers, its as-of date.
    assert sorted(p.name for p in (out / "2013-Q2").iterdir()) == [
        "manifest_2013-Q2.json", "statement_P1_2013-Q2.csv", "statement_P1_2013-Q2.json", "statement_P2_2013-Q2.csv",
        "statement_P2_2013-Q2.json", "summary_2013-Q2.csv"]
    assert sorted(p.name for p in (elsewhere / "2013-Q2").iterdir()) == [
        "manifest_2013-Q2.json", "statement_P1_2013-Q2.csv", "statement_P1_2013-Q2.json", "statement_P1_2013-Q2.pdf",
        "statement_P1_2013-Q2.xlsx", "summary_2013-Q2.csv"]
    assert _statuses(out) == {
        "2013-Q2/statement_P1_2013-Q2.json": "approved", "2013-Q2/statement_P2_2013-Q2.json": "draft",
        "2013-Q2/summary_2013-Q2.csv:P1": "approved", "2013-Q2/summary_2013-Q2.csv:P2": "draft"}
    assert set(_statuses(elsewhere).values()) == {"approved"}
    assert json.loads((out / "2013-Q2" / "statement_P1_2013-Q2.json").read_text())["fingerprint"] == fingerprint
    for folder in (out, elsewhere):
        assert "OK" in run_cli("verify", str(folder))
    # approve --out writes a set into another folder too; a folder pay wrote that is gone is said to be gone.
    (out / "2013-Q2").unlink()
    done = run_cli("approve", *base, "--by", "Finance", "--out", str(tmp_path / "approved"))
    assert f"Not written again: {out / '2013-Q2'} is no longer there" in done
    assert set(_statuses(tmp_path / "approved").values()) == {"approved"}
    assert not (out / "2013-Q2").exists()


def test_a_stop_before_the_swap_keeps_the_old_set_and_after_it_the_new(
    area: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recoverypbr.reports import sets

    out = tmp_path / "statements"
    _pay(area, out, "--as-of", "2013-06-30")
    old = _visible(out)
    contract, db = area
    again = ["pay", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2", "--out", str(out),
             "--as-of", "2013-07-15"]

    def killed(*args: object, **kwargs: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(sets.os, "replace", killed)
        with pytest.raises(Killed):
            runner.invoke(app, again, catch_exceptions=False)
    assert _visible(out) == old
    with monkeypatch.context() as patch:
        patch.setattr(sets, "remove_stale", killed)
        with pytest.raises(Killed):
            runner.invoke(app, again, catch_exceptions=False)
    new = _visible(out)
    assert new != old and {json.loads(new[f"2013-Q2/statement_{p}_2013-Q2.json"])["as_of"] for p in ("P1", "P2")} == {
        "2013-07-15"}
    assert len(list((out / ".sets").iterdir())) == 2  # the set replaced is left behind by the stop
    assert "OK" in run_cli("verify", str(out))
    # A killed run's leftovers: a folder and a link of a process that is gone. verify ignores them; pay removes them.
    (out / ".sets" / "2013-Q2.999999999-0123456789ab").mkdir()
    (out / ".sets" / "2013-Q2.999999999-0123456789ab" / "statement_P1_2013-Q2.csv").write_text("half")
    (out / ".sets" / "2013-Q2.999999999-0123456789ab.link").symlink_to("nowhere")
    assert "OK" in run_cli("verify", str(out))
    _pay(area, out, "--as-of", "2013-07-15")
    assert [p.name for p in (out / ".sets").iterdir()] == [os.readlink(out / "2013-Q2").split("/")[1]]
    assert _visible(out) == new  # the same data, contract and program: the same bytes


def test_verify_reports_a_changed_byte_a_missing_file_and_an_extra_file(
    area: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "statements"
    _pay(area, out)
    folder = out / "2013-Q2"
    ok = run_cli("verify", str(folder))
    assert ok.startswith(f"OK {folder}: period 2013-Q2, Golden (version 2013-04-01), as of 2013-06-30; 2 statement(s), "
                         "10 files; set ")
    p1 = json.loads((folder / "statement_P1_2013-Q2.json").read_text())
    assert f"P1 draft, fingerprint {p1['fingerprint'][:12]}, 3 lines, total 1351.50" in ok

    def failed(path: Path) -> str:
        result = runner.invoke(app, ["verify", str(path)])
        assert result.exit_code == 1, result.output
        return words(result.output)

    pdf = folder / "statement_P2_2013-Q2.pdf"
    data = bytearray(pdf.read_bytes())
    data[len(data) // 2] ^= 1
    pdf.write_bytes(bytes(data))
    assert "FAILED" in (said := failed(folder))
    assert "changed: statement_P2_2013-Q2.pdf (its SHA-256 differs from the manifest's)" in said
    (folder / "statement_P1_2013-Q2.xlsx").unlink()
    (folder / "notes.txt").write_text("mine")
    said = failed(out)
    assert "missing: statement_P1_2013-Q2.xlsx" in said and "extra: notes.txt (not in the manifest)" in said
    assert said.endswith("Not verified: 1 of 1 sets failed.")


def test_verify_reports_a_statement_that_disagrees_with_the_manifest(area: tuple[Path, Path], tmp_path: Path) -> None:
    # Digests alone would pass a manifest rewritten to match a changed file: the fingerprints must agree too.
    import hashlib

    out = tmp_path / "statements"
    _pay(area, out, "--format", "csv,json")
    folder = out / "2013-Q2"
    statement = folder / "statement_P1_2013-Q2.json"
    document = json.loads(statement.read_text())
    real = document["fingerprint"]
    document["fingerprint"] = "f" * 64
    statement.write_text(json.dumps(document, indent=2) + "\n")
    manifest_file = folder / "manifest_2013-Q2.json"
    manifest = json.loads(manifest_file.read_text())
    for entry in manifest["files"]:
        if entry["name"] == statement.name:
            entry["bytes"] = statement.stat().st_size
            entry["sha256"] = hashlib.sha256(statement.read_bytes()).hexdigest()
    manifest_file.write_text(json.dumps(manifest, indent=2) + "\n")
    result = runner.invoke(app, ["verify", str(folder)])
    assert result.exit_code == 1
    assert f"statement_P1_2013-Q2.json says fingerprint {'f' * 64}, the manifest says {real}" in words(result.output)


def test_verify_reports_statement_files_outside_any_set_and_refuses_a_folder_without_sets(
    area: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "statements"
    (out).mkdir()
    (out / "statement_P1_2013-Q2.pdf").write_bytes(b"written by an earlier recoverypbr")
    paid = _pay(area, out)
    assert "also holds 1 statement file(s) outside any set (e.g. statement_P1_2013-Q2.pdf)" in paid
    result = runner.invoke(app, ["verify", str(out)])
    assert result.exit_code == 1
    assert "Outside any set in" in result.output and "statement_P1_2013-Q2.pdf" in result.output
    assert "OK" in run_cli("verify", str(out / "2013-Q2"))
    (tmp_path / "empty").mkdir()
    nothing = runner.invoke(app, ["verify", str(tmp_path / "empty")])
    assert nothing.exit_code == 2 and "no statement set in" in words(nothing.output)


def test_pay_will_not_replace_a_folder_it_did_not_write(area: tuple[Path, Path], tmp_path: Path) -> None:
    contract, db = area
    out = tmp_path / "statements"
    (out / "2013-Q2").mkdir(parents=True)
    (out / "2013-Q2" / "mine.txt").write_text("kept")
    result = runner.invoke(app, ["pay", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2",
                                 "--out", str(out)])
    assert result.exit_code == 2
    assert "is not a statement set written by recoverypbr" in words(result.output)
    assert (out / "2013-Q2" / "mine.txt").read_text() == "kept"
    assert not (out / ".sets").exists() or not any((out / ".sets").iterdir())


def test_where_no_symbolic_link_can_be_made_pay_says_so_and_keeps_the_earlier_set(
    area: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recoverypbr.reports import sets

    out = tmp_path / "statements"
    _pay(area, out)
    before = _visible(out)

    def refused(*args: object, **kwargs: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(sets.os, "symlink", refused)
    contract, db = area
    result = runner.invoke(app, ["pay", "--contract", str(contract), "--db", str(db), "--period", "2013-Q2", "--out",
                                 str(out), "--as-of", "2013-07-15"])
    assert result.exit_code == 2
    assert "cannot make a symbolic link in" in words(result.output)
    assert _visible(out) == before and len(list((out / ".sets").iterdir())) == 1


def test_a_large_set_is_written_by_child_processes_with_the_same_bytes(
    area: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every set counts as large: each statement is written by a forked child (making its document and its four
    # files). The set is the one written here, one statement after another, byte for byte.
    from recoverypbr.reports import sets

    _pay(area, tmp_path / "here", "--as-of", "2013-06-30")
    forks = []
    real = os.fork

    def counted() -> int:
        pid = real()
        if pid:
            forks.append(pid)
        return pid

    monkeypatch.setattr(sets, "PARALLEL_LINES", 0)
    monkeypatch.setattr(sets, "_processors", lambda: 2)
    monkeypatch.setattr(sets.os, "fork", counted)
    _pay(area, tmp_path / "apart", "--as-of", "2013-06-30")
    assert len(forks) == 2
    assert _visible(tmp_path / "apart") == _visible(tmp_path / "here")
    assert len(_visible(tmp_path / "here")) == 10


def _two_documents() -> list[dict[str, Any]]:
    """Small statements of providers P1 and P2 (made-up lines), as documents."""
    made = []
    for provider in ("P1", "P2"):
        document = synthetic_statement(4).document()
        document["provider"] = {"id": provider, "name": provider}
        document["statement_id"] = document["statement_id"].replace("/P1/", f"/{provider}/")
        made.append(document)
    return made


def test_a_child_refusing_a_statement_refuses_the_set_and_keeps_the_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A line holding a character a worksheet cannot hold: the child's error is the error raised here (as when
    # written here), and the period's earlier set stays whole.
    from openpyxl.utils.exceptions import IllegalCharacterError

    from recoverypbr.reports import sets

    monkeypatch.setattr(sets, "PARALLEL_LINES", 0)
    monkeypatch.setattr(sets, "_processors", lambda: 2)
    out = tmp_path / "out"
    sets.write_set(out, "2013-Q2", "2013-06-30", _two_documents(), b"summary\n", parallel=True)
    before = _visible(out)
    assert len(before) == 10
    bad = _two_documents()
    bad[1]["lines"][2]["evidence"] = "bell \x07"
    with pytest.raises(IllegalCharacterError, match="cannot be used in worksheets"):
        sets.write_set(out, "2013-Q2", "2013-06-30", bad, b"summary\n", parallel=True)
    assert _visible(out) == before
    assert [p.name for p in (out / sets.SETS).iterdir() if p.is_dir()] == [os.readlink(out / "2013-Q2").split("/")[1]]


def test_a_child_killed_while_writing_refuses_the_set_in_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    # A child that ends without sending its result back (here: killed by its own hand, as the kernel's OOM killer
    # would): a message naming what stopped, no traceback from the pipe, no set left in place.
    import signal

    from recoverypbr.reports import sets

    monkeypatch.setattr(sets, "PARALLEL_LINES", 0)
    monkeypatch.setattr(sets, "_processors", lambda: 2)
    real = sets._write_one

    def dies_on_p2(item: Any, folder: Path, formats: Any) -> Any:
        if item["provider"]["id"] == "P2":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(item, folder, formats)

    monkeypatch.setattr(sets, "_write_one", dies_on_p2)
    out = tmp_path / "out"
    with pytest.raises(sets.SetError, match="stopped without finishing"):
        sets.write_set(out, "2013-Q2", "2013-06-30", _two_documents(), b"summary\n", parallel=True)
    assert not (out / "2013-Q2").exists()
    assert [p for p in (out / sets.SETS).iterdir()] == []


def test_only_a_caller_that_allows_it_forks_and_a_failed_fork_writes_here(tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # A server (the web app's approval) never forks: its other threads may be busy. A command that allows it but
    # cannot fork (no memory for a process) writes the statements itself: the same set.
    from recoverypbr.reports import sets

    monkeypatch.setattr(sets, "PARALLEL_LINES", 0)
    monkeypatch.setattr(sets, "_processors", lambda: 2)

    def no_fork() -> int:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(sets.os, "fork", no_fork)
    sets.write_set(tmp_path / "server", "2013-Q2", "2013-06-30", _two_documents(), b"summary\n")
    sets.write_set(tmp_path / "command", "2013-Q2", "2013-06-30", _two_documents(), b"summary\n", parallel=True)
    assert _visible(tmp_path / "command") == _visible(tmp_path / "server")
    assert len(_visible(tmp_path / "server")) == 10
