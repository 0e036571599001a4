"""Areas with several exchangeable providers (`synth --providers N`), and the arguments of peers and gaming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
from helpers import run_cli, words
from typer.testing import CliRunner

from recoverypbr.cli import app
from recoverypbr.contract.load import load_contract
from recoverypbr.errors import DataError
from recoverypbr.synth import generate_area
from recoverypbr.synth import params as p
from recoverypbr.synth.tables import TABLE_NAMES

ROOT = Path(__file__).parents[2]
CLIENTS = 800


def _connect(folder: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLE_NAMES:
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder / name}.parquet')")
    return con


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple[Any, ...]]:
    return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    out = tmp_path_factory.mktemp("peers")
    summary = generate_area(CLIENTS, 4, out, providers=4)
    assert summary.providers == 4 and summary.gamed == {}
    return _connect(out)


def test_providers_are_p01_to_pnn_and_the_lasars_l01(peers: duckdb.DuckDBPyConnection) -> None:
    assert _rows(peers, "SELECT provider_id, role FROM providers ORDER BY 1") == [
        ("L01", "lasars"), ("P01", "prime"), ("P02", "subcontractor"), ("P03", "subcontractor"),
        ("P04", "subcontractor")]
    lines = {x for (x,) in _rows(peers, "SELECT DISTINCT service_lines FROM providers WHERE role <> 'lasars'")}
    assert lines == {";".join(p.PRIME.service_lines)}
    assert _rows(peers, "SELECT DISTINCT assessor_org, assessor_independent FROM assessments ORDER BY 2") == [
        ("L01", "N"), ("L01", "Y")]


def test_clients_are_shared_equally_and_keep_one_provider(peers: duckdb.DuckDBPyConnection) -> None:
    assert _rows(peers, "SELECT max(n) FROM (SELECT count(DISTINCT provider_id) n FROM episodes GROUP BY client_id)"
                 ) == [(1,)]
    clients = dict(_rows(peers, "SELECT provider_id, count(DISTINCT client_id) FROM episodes GROUP BY 1"))
    assert sorted(clients) == ["P01", "P02", "P03", "P04"]
    assert all(abs(n - CLIENTS / 4) < 50 for n in clients.values()), clients  # about 4 standard deviations
    # the same service lines everywhere, and referrals that never start at every provider
    lines = _rows(peers, "SELECT provider_id, list_sort(list(DISTINCT service_line)) FROM episodes GROUP BY 1")
    assert len({tuple(x) for _, x in lines}) == 1
    not_started = dict(_rows(peers, "SELECT provider_id, avg((start_date IS NULL)::INT) FROM episodes GROUP BY 1"))
    assert all(0.04 < share < 0.18 for share in not_started.values()), not_started


def test_feedback_is_about_the_peers_and_scored_alike(peers: duckdb.DuckDBPyConnection) -> None:
    providers = {x for (x,) in _rows(peers, "SELECT DISTINCT provider_id FROM feedback")}
    assert providers <= {"P01", "P02", "P03", "P04"} and len(providers) >= 3
    named = _rows(peers, "SELECT count(*) FROM feedback f JOIN episodes e USING (client_id) "
                         "WHERE f.provider_id <> e.provider_id")
    assert named == [(0,)]  # a named respondent speaks of their own provider


def test_peer_areas_are_deterministic(tmp_path: Path) -> None:
    args = {"providers": 3, "gaming": "timing=0.5,misrepresentation=0.4", "gaming_provider": "P02"}
    for name, seed in (("a", 2), ("b", 2), ("c", 3)):
        generate_area(300, seed, tmp_path / name, fmt="csv", **args)  # type: ignore[arg-type]
    files = {name: {f.name: f.read_bytes() for f in sorted((tmp_path / name).iterdir())} for name in "abc"}
    assert files["a"] == files["b"]
    assert files["a"] != files["c"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"providers": 1}, "providers must be a whole number from 2"),
    ({"providers": 0}, "providers must be a whole number from 2"),
    ({"providers": 100}, "providers must be a whole number from 2"),
    ({"providers": 3, "gaming": "assessment=0.5"}, "gaming needs the provider"),
    ({"providers": 3, "gaming_provider": "P01"}, "without any gaming"),
    ({"providers": 3, "gaming": "assessment=0.5", "gaming_provider": "P04"}, "not a treatment provider"),
    ({"providers": 3, "gaming": "assessment=0.5", "gaming_provider": "L01"}, "not a treatment provider"),
    ({"gaming": "assessment=0.5", "gaming_provider": "P03"}, "not a treatment provider"),  # P03 is the LASARS
    ({"providers": 3, "gaming": "upcoding=0.5", "gaming_provider": "P01"}, "unknown gaming kind"),
    ({"providers": 3, "gaming": "assessment=0", "gaming_provider": "P01"}, "outside"),
    ({"providers": 3, "gaming": "assessment=1.5", "gaming_provider": "P01"}, "outside"),
    ({"providers": 3, "gaming": "assessment=much", "gaming_provider": "P01"}, "not a number"),
    ({"providers": 3, "gaming": "assessment", "gaming_provider": "P01"}, "has no strength"),
    ({"providers": 3, "gaming": "timing=0.2,timing=0.3", "gaming_provider": "P01"}, "given twice"),
])
def test_bad_peer_or_gaming_arguments_are_refused_before_writing(tmp_path: Path, kwargs: dict[str, object],
                                                                 message: str) -> None:
    with pytest.raises(DataError, match=message) as error:
        generate_area(50, 1, tmp_path / "out", **kwargs)  # type: ignore[arg-type]
    assert error.value.hint
    assert not (tmp_path / "out").exists()


def test_providers_with_a_contract_are_refused(tmp_path: Path) -> None:
    contract = load_contract(ROOT / "contracts" / "marlshire.yaml")
    with pytest.raises(DataError, match="cannot be shaped for a contract") as error:
        generate_area(50, 1, tmp_path / "out", contract=contract, providers=4)
    assert "either --contract, or --providers" in error.value.hint
    assert not (tmp_path / "out").exists()
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "cli"), "--clients", "50", "--contract",
                                      str(ROOT / "contracts" / "marlshire.yaml"), "--providers", "4"])
    assert result.exit_code != 0
    assert "cannot be shaped for a contract" in words(result.output)
    assert not (tmp_path / "cli").exists()


def test_the_cli_makes_a_gamed_peer_area_and_says_what_was_injected(tmp_path: Path) -> None:
    output = run_cli("synth", "--out", str(tmp_path / "area"), "--clients", "300", "--providers", "4",
                     "--gaming", "assessment=0.5,misrepresentation=0.5", "--gaming-provider", "P03")
    assert "Gaming injected by P03 from go-live" in output
    assert "assessments inflated" in output and "TOPs reporting no use" in output
    assert (tmp_path / "area" / "episodes.csv").exists()
