"""`outcomes --engine spark` says what is wrong before any Spark starts: no Parquet tables, no Java, no pyspark,
the wrong options. (The Spark runs themselves are in tests/conformance, marked `spark`.)"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from recoverypbr.outcomes.cli import outcomes_command
from recoverypbr.warehouse import spark
from recoverypbr.warehouse.spark import SparkError, SparkWarehouse

CONTRACTS = Path(__file__).parents[2] / "contracts"

app = typer.Typer()
app.command("outcomes")(outcomes_command)
app.command("other")(lambda: None)  # two commands, so that `outcomes` is a subcommand as in the main app


def _run(*args: str) -> tuple[int, str]:
    common = ["outcomes", "--contract", str(CONTRACTS / "marlshire.yaml"), "--as-of", "2015-03-31"]
    result = CliRunner().invoke(app, [*common, *args])
    return result.exit_code, " ".join(result.output.split())


def test_missing_tables_are_named(tmp_path: Path) -> None:
    (tmp_path / "events.parquet").write_bytes(b"")
    code, output = _run("--engine", "spark", "--parquet", str(tmp_path), "--out", str(tmp_path / "l.parquet"))
    assert code == 2
    assert "no Parquet file for the table(s) episodes, top" in output


def test_spark_needs_a_parquet_folder_and_a_parquet_out(tmp_path: Path) -> None:
    code, output = _run("--engine", "spark", "--out", str(tmp_path / "l.parquet"))
    assert code == 2 and "--parquet DIR" in output
    code, output = _run("--engine", "spark", "--parquet", str(tmp_path))
    assert code == 2 and "--out ledger.parquet" in output
    code, output = _run("--parquet", str(tmp_path))
    assert code == 2 and "--engine spark only" in output


def test_no_java_is_said_with_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(spark.shutil, "which", lambda name: None)
    with pytest.raises(SparkError, match="Spark needs Java") as raised:
        spark.local_session()
    assert "openjdk" in raised.value.hint


def test_no_pyspark_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(SparkError, match="pyspark is not installed") as raised:
        spark.local_session()
    assert "recoverypbr[spark]" in raised.value.hint


def test_two_sources_for_one_table_are_refused(tmp_path: Path) -> None:
    (tmp_path / "episodes.parquet").write_bytes(b"")
    (tmp_path / "episodes").mkdir()
    with pytest.raises(SparkError, match="two sources for the table episodes"):
        SparkWarehouse.from_parquet(tmp_path)
