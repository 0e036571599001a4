"""The synthetic area: determinism, canonical shape, clean-data rules, dirty mode, calibration, arguments."""

from __future__ import annotations

import hashlib
import math
import zipfile
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

import recoverypbr.synth as synth
from recoverypbr.data import codes
from recoverypbr.data.schema import TABLES_BY_NAME
from recoverypbr.errors import DataError
from recoverypbr.synth import CALIBRATION, generate_area
from recoverypbr.synth import params as p
from recoverypbr.synth import write as synth_write
from recoverypbr.synth.tables import TABLE_NAMES, schema

DOCS = Path(__file__).parents[2] / "docs" / "synthetic-data.md"
EXTRACT = p.EXTRACT_DATE.isoformat()


def _columns(name: str) -> list[str]:
    return [c for c in TABLES_BY_NAME[name].column_names if c != "response_key"]


def _files(folder: Path) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(folder.iterdir())}


def _connect(folder: Path, fmt: str = "parquet") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name in TABLE_NAMES:
        source = (f"read_parquet('{folder / name}.parquet')" if fmt == "parquet"
                  else f"read_csv('{folder / name}.csv', all_varchar=true, header=true)")
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM {source}")
    return con


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> object:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


@pytest.fixture(scope="module")
def area(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("area")
    generate_area(1_000, 11, out)
    return out


@pytest.fixture(scope="module")
def db(area: Path) -> duckdb.DuckDBPyConnection:
    return _connect(area)


# --- determinism -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "dirty"), [("csv", False), ("parquet", False), ("xlsx", False), ("csv", True)])
def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path: Path, fmt: str, dirty: bool) -> None:
    runs = [(tmp_path / "a", 3), (tmp_path / "b", 3), (tmp_path / "c", 4)]
    for out, seed in runs:
        generate_area(300, seed, out, fmt=fmt, dirty=dirty)  # type: ignore[arg-type]
    first, again, other = (_files(out) for out, _ in runs)
    assert first == again
    assert first.keys() == other.keys()
    assert first != other


#: sha256 of each CSV of the area of 300 clients, seed 3, before referrals that never start were generated, and of
#: its rows other than those referrals (`"R..."` episodes and `"AR..."` assessments) today: they must not change.
_BEFORE_REFERRALS = {
    "assessments.csv": "61a27afe13fd4f13b82d2159cf86ec382af7619c80733362db72c74600190429",
    "clients.csv": "9e99f19f2e2b1e18f60701dcc5046942aaeac07d6984c4903ca898b79c612379",
    "episodes.csv": "c610d11cc896440c2ea7e1d742fc68ee3936f420253547f654dbb050f332b454",
    "events.csv": "e32c1fcfed679070c61b5bf119b91251fcf93e527c1ca76b181a6d91a5a2cd30",
    "feedback.csv": "8dab623d92c8ae879bb0c6a8996ef0921620cfcba2eb3c4a8326b1c6fe62f9cf",
    "offending_cohort.csv": "dfd049a5824edf5304dac8c8b6aa8300473c9b64fcbfb15a34b6375bda444513",
    "presentations.csv": "7d9beca8e84730bd45da30bf27eb58b80f0e99996728b87c6a75269d61f46b7a",
    "providers.csv": "cb2e4505aa2c9645355995eac833948cba80da4e7cee325f8421c1c35e9b97d1",
    "top.csv": "1081270c936c87ab8beb628347eb87e84a0169c45bfcb6f812bd43712cb4de1c",
}


def test_referrals_are_appended_and_every_other_row_is_unchanged(tmp_path: Path) -> None:
    generate_area(300, 3, tmp_path, fmt="csv")
    found, referrals = {}, 0
    for path in sorted(tmp_path.iterdir()):
        lines = path.read_bytes().splitlines(keepends=True)
        kept = [line for line in lines if not line.startswith((b'"R', b'"AR'))]
        referrals += len(lines) - len(kept)
        found[path.name] = hashlib.sha256(b"".join(kept)).hexdigest()
    assert found == _BEFORE_REFERRALS
    assert referrals > 50  # episodes and their assessments


def test_workbook_times_are_fixed(tmp_path: Path) -> None:
    summary = generate_area(50, 1, tmp_path, fmt="xlsx")
    with zipfile.ZipFile(summary.files[0]) as book:
        assert {info.date_time for info in book.infolist()} == {(2016, 3, 31, 0, 0, 0)}
        core = book.read("docProps/core.xml").decode()
    assert core.count("2016-03-31T00:00:00Z") == 2


# --- shape -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "xlsx"])
def test_every_table_has_the_canonical_columns_in_order(tmp_path: Path, fmt: str) -> None:
    summary = generate_area(200, 2, tmp_path, fmt=fmt)  # type: ignore[arg-type]
    if fmt == "xlsx":
        assert summary.files == [tmp_path / "area.xlsx"]
        book = load_workbook(summary.files[0], read_only=True)
        assert book.sheetnames == list(TABLE_NAMES)
        headers = {s.title: [c.value for c in next(s.iter_rows(max_row=1))] for s in book.worksheets}
        rows = {s.title: sum(1 for _ in s.iter_rows()) - 1 for s in book.worksheets}
        book.close()
    else:
        assert sorted(f.name for f in tmp_path.iterdir()) == sorted(f"{n}.{fmt}" for n in TABLE_NAMES)
        read = pq.read_table if fmt == "parquet" else pacsv.read_csv
        tables = {n: read(tmp_path / f"{n}.{fmt}") for n in TABLE_NAMES}
        headers = {n: tbl.column_names for n, tbl in tables.items()}
        rows = {n: tbl.num_rows for n, tbl in tables.items()}
    assert headers == {n: _columns(n) for n in TABLE_NAMES}
    assert rows == summary.rows
    assert summary.clients == 200 and summary.seed == 2 and summary.fmt == fmt and summary.dirty_rows == 0


def test_parquet_types_are_dates_ints_and_text(area: Path) -> None:
    for name in TABLE_NAMES:
        assert pq.read_schema(area / f"{name}.parquet").remove_metadata() == schema(name)
    assert schema("top").field("top_date").type == pa.date32()
    assert schema("top").field("opiate_days").type == pa.int64()


def test_csv_holds_the_same_values_as_parquet(tmp_path: Path) -> None:
    generate_area(300, 5, tmp_path / "csv", fmt="csv")
    generate_area(300, 5, tmp_path / "parquet")
    for name in TABLE_NAMES:
        types = {f.name: f.type for f in schema(name)}
        options = pacsv.ConvertOptions(column_types=types, strings_can_be_null=True)
        from_csv = pacsv.read_csv(tmp_path / "csv" / f"{name}.csv", convert_options=options)
        assert from_csv.equals(pq.read_table(tmp_path / "parquet" / f"{name}.parquet")), name


# --- clean data rules --------------------------------------------------------------------------------------


def test_codes_flags_and_ranges(db: duckdb.DuckDBPyConnection) -> None:
    for name in TABLE_NAMES:
        for column in TABLES_BY_NAME[name].columns:
            if column.name not in _columns(name):
                continue
            allowed = {"flag": ("Y", "N"), "code": column.codes}.get(column.kind, ())
            if column.kind == "list":
                values = db.execute(f"SELECT DISTINCT unnest(string_split({column.name}, ';')) FROM {name}")
            elif allowed:
                values = db.execute(f"SELECT DISTINCT {column.name} FROM {name} WHERE {column.name} IS NOT NULL")
            else:
                values = None
            if values is not None:
                assert {v for (v,) in values.fetchall()} <= set(allowed or column.codes), (name, column.name)
            if column.minimum is not None and column.kind == "int":
                low, high = db.execute(f"SELECT min({column.name}), max({column.name}) FROM {name}").fetchone() or ()
                assert low is None or column.minimum <= low <= high <= (column.maximum or math.inf), column.name
    assert {v for (v,) in db.execute("SELECT DISTINCT event_type FROM events").fetchall()} <= set(
        codes.KNOWN_EVENT_TYPES)
    assert {v for (v,) in db.execute("SELECT DISTINCT complexity_group FROM assessments").fetchall()} == set(
        p.COMPLEXITY_GROUPS)


def test_keys_are_unique_and_ids_well_formed(db: duckdb.DuckDBPyConnection) -> None:
    for name in TABLE_NAMES:
        key = ", ".join(k for k in TABLES_BY_NAME[name].key if k != "response_key")
        if key:
            assert _scalar(db, f"SELECT count(*) - count(DISTINCT ({key})) FROM {name}") == 0, name
    # referrals that never started: R0000001, assessed in AR0000001
    patterns = {("clients", "client_id"): "^C[0-9]{7}$", ("episodes", "episode_id"): "^[ER][0-9]{7}$",
                ("assessments", "assessment_id"): "^AR?[0-9]{7}$", ("top", "top_id"): "^T[0-9]{8}$",
                ("providers", "provider_id"): "^P[0-9]{2}$"}
    for (name, column), pattern in patterns.items():
        assert _scalar(db, f"SELECT count(*) FROM {name} WHERE NOT regexp_matches({column}, '{pattern}')") == 0


def test_references_are_valid_and_rows_name_their_episode_client(db: duckdb.DuckDBPyConnection) -> None:
    for name in TABLE_NAMES:
        for column in TABLES_BY_NAME[name].references:
            assert column.references is not None
            target, target_column = column.references
            missing = _scalar(db, f"SELECT count(*) FROM {name} WHERE {column.name} IS NOT NULL AND {column.name} "
                                  f"NOT IN (SELECT {target_column} FROM {target})")
            assert missing == 0, (name, column.name)
    for name in ("top", "events"):
        assert _scalar(db, f"SELECT count(*) FROM {name} x JOIN episodes e USING (episode_id) "
                           "WHERE x.client_id <> e.client_id") == 0
    assert _scalar(db, "SELECT count(*) FROM clients WHERE client_id NOT IN (SELECT client_id FROM episodes)") == 0
    assert _scalar(db, "SELECT max(n) FROM (SELECT count(*) n FROM episodes WHERE start_date IS NOT NULL "
                       "GROUP BY client_id)") <= 4
    assert _scalar(db, "SELECT count(*) FROM assessments a JOIN episodes e ON a.assessment_id = 'A' || e.episode_id "
                       "WHERE a.client_id <> e.client_id") == 0
    assert _scalar(db, "SELECT count(*) FROM assessments a JOIN episodes e ON a.assessment_id = "
                       "substr(e.episode_id, 2) WHERE a.client_id <> e.client_id") == 0


def test_dates_are_in_order_and_inside_their_episodes(db: duckdb.DuckDBPyConnection) -> None:
    checks = {
        "episode dates out of order": "SELECT count(*) FROM episodes WHERE NOT (referral_date <= triage_date "
        "AND triage_date <= start_date AND start_date <= coalesce(discharge_date, start_date))",
        "discharge without reason or reason without discharge": "SELECT count(*) FROM episodes WHERE "
        "(discharge_date IS NULL) <> (discharge_reason IS NULL)",
        "after the extract": f"SELECT count(*) FROM episodes WHERE greatest(start_date, discharge_date) > '{EXTRACT}'",
        "assessed after start": "SELECT count(*) FROM assessments a JOIN episodes e ON a.assessment_id"
        " = 'A' || substr(e.episode_id, 2) AND e.episode_id LIKE 'E%' WHERE a.assessed_on > e.start_date "
        "OR a.assessed_on < e.referral_date",
        "TOP outside episode": "SELECT count(*) FROM top t JOIN episodes e USING (episode_id) WHERE t.top_date > "
        f"'{EXTRACT}' OR (t.stage <> 'post_exit' AND (t.top_date < e.start_date OR t.top_date > "
        "coalesce(e.discharge_date, t.top_date))) OR (t.stage = 'post_exit' AND NOT t.top_date > e.discharge_date)",
        "event outside episode": "SELECT count(*) FROM events v JOIN episodes e USING (episode_id) WHERE "
        f"v.event_date < e.start_date OR v.event_date > coalesce(e.discharge_date, DATE '{EXTRACT}')",
        "presentation after the extract": f"SELECT count(*) FROM presentations WHERE presented_on > '{EXTRACT}'",
        "episodes overlap": "SELECT count(*) FROM (SELECT start_date, lag(discharge_date) OVER (PARTITION BY "
        "client_id ORDER BY start_date) prev FROM episodes) WHERE start_date <= prev",
        "cohort periods": "SELECT count(*) FROM offending_cohort WHERE period_end < period_start",
        "under 18 at first start": "SELECT count(*) FROM clients c JOIN episodes e USING (client_id) WHERE "
        "e.start_date < c.date_of_birth + INTERVAL 18 YEAR",
    }
    assert {name: _scalar(db, sql) for name, sql in checks.items()} == dict.fromkeys(checks, 0)


def test_episodes_are_consistent_with_their_assessment(db: duckdb.DuckDBPyConnection) -> None:
    joined = ("FROM assessments a JOIN episodes e ON a.assessment_id = 'A' || substr(e.episode_id, 2) "
              "AND e.episode_id LIKE 'E%'")
    assert _scalar(db, f"SELECT count(*) {joined} WHERE NOT list_contains(string_split(e.substances, ';'), "
                       "a.primary_substance)") == 0
    assert _scalar(db, "SELECT count(*) FROM episodes WHERE discharge_reason = 'completed_occasional_user' "
                       "AND (substances LIKE '%opiates%' OR substances LIKE '%crack%')") == 0
    assert _scalar(db, f"SELECT count(*) FROM episodes WHERE (start_date < '{p.GO_LIVE}') <> "
                       "(stock_or_flow = 'stock')") == 0
    assert _scalar(db, "SELECT count(DISTINCT provider_id) FROM episodes") == 2
    assert _scalar(db, "SELECT count(*) FROM providers WHERE role = 'lasars'") == 1


def test_referrals_that_never_start(db: duckdb.DuckDBPyConnection) -> None:
    """About a tenth of referrals never start, more often in the high group; each is closed a few days after
    triage (declined, or `other`: no appropriate treatment or an inappropriate referral) or still waiting on the
    extract date; each has an assessment on or before its referral, no TOP or event, and lies between the
    client's episodes."""
    referrals = "FROM episodes WHERE start_date IS NULL"
    share = _scalar(db, "SELECT avg((start_date IS NULL)::INT) FROM episodes")
    assert 0.08 <= share <= 0.12  # type: ignore[operator]
    assert _scalar(db, f"SELECT count(*) {referrals} AND episode_id NOT LIKE 'R%'") == 0
    reasons = {r for (r,) in db.execute(f"SELECT DISTINCT discharge_reason {referrals}").fetchall()}
    assert reasons == {"declined", "other", None}
    assert _scalar(db, f"SELECT count(*) {referrals} AND NOT (referral_date <= coalesce(triage_date, referral_date) "
                       "AND triage_date <= coalesce(discharge_date, triage_date) "
                       f"AND coalesce(discharge_date, referral_date) <= '{EXTRACT}')") == 0
    assert _scalar(db, f"SELECT count(*) {referrals} AND discharge_date IS NULL AND referral_date < "
                       f"DATE '{EXTRACT}' - INTERVAL 60 DAY") == 0
    by_group = dict(db.execute(
        "SELECT a.complexity_group, avg((e.start_date IS NULL)::INT) FROM episodes e JOIN assessments a ON "
        "a.assessment_id = CASE WHEN e.episode_id LIKE 'R%' THEN 'A' || e.episode_id "
        "ELSE 'A' || substr(e.episode_id, 2) END GROUP BY 1").fetchall())
    assert by_group["low"] < by_group["high"]
    assert _scalar(db, "SELECT count(*) FROM assessments a JOIN episodes e ON a.assessment_id = 'A' || e.episode_id "
                       "WHERE a.assessed_on > e.referral_date") == 0
    for name in ("top", "events"):
        assert _scalar(db, f"SELECT count(*) FROM {name} WHERE episode_id LIKE 'R%'") == 0
    assert _scalar(db, "SELECT count(*) FROM episodes r JOIN episodes e USING (client_id) WHERE r.start_date IS NULL "
                       "AND e.start_date IS NOT NULL AND r.referral_date BETWEEN e.referral_date AND "
                       f"coalesce(e.discharge_date, DATE '{EXTRACT}')") == 0


def test_chunks_keep_ids_unique_and_report_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(p, "CHUNK_CLIENTS", 100)
    calls: list[tuple[int, int]] = []
    generate_area(250, 1, tmp_path, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(100, 250), (200, 250), (250, 250)]
    con = _connect(tmp_path)
    for name, key in (("clients", "client_id"), ("episodes", "episode_id"), ("top", "top_id")):
        assert _scalar(con, f"SELECT count(*) - count(DISTINCT {key}) FROM {name}") == 0
    assert _scalar(con, "SELECT max(client_id) FROM clients") == "C0000250"


# --- dirty mode ------------------------------------------------------------------------------------------

_BAD_DAY = r"^[0-9]{4}-(02-3[01]|04-31|06-31|09-31|11-31)$"
_SLASHED = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
_DIRTY_CHECKS = {
    "impossible date": f"SELECT count(*) FROM episodes WHERE regexp_matches(start_date, '{_BAD_DAY}')",
    "non-ISO date": f"SELECT count(*) FROM top WHERE regexp_matches(top_date, '{_SLASHED}')",
    "day count 29 or -1": "SELECT count(*) FROM top WHERE '29' IN (opiate_days, crack_days, alcohol_days, "
    "cocaine_days, cannabis_days, amphetamine_days, other_drug_days, injecting_days, shoplifting_days, "
    "drug_selling_days, other_theft_days, assault_days, paid_work_days, education_days) OR '-1' IN (opiate_days, "
    "crack_days, alcohol_days, cocaine_days, cannabis_days, amphetamine_days, other_drug_days, injecting_days, "
    "shoplifting_days, drug_selling_days, other_theft_days, assault_days, paid_work_days, education_days)",
    "rating 21": "SELECT count(*) FROM top WHERE '21' IN (psychological_health, physical_health, quality_of_life)",
    "unknown discharge reason": "SELECT count(*) FROM episodes WHERE discharge_reason NOT IN "
    f"{codes.DISCHARGE_REASONS + tuple(codes.OLD_DISCHARGE_CODES)}",
    "unknown stage": f"SELECT count(*) FROM top WHERE stage NOT IN {codes.TOP_STAGES}",
    "missing start and referral date": "SELECT count(*) FROM episodes WHERE start_date IS NULL AND "
    "referral_date IS NULL",
    "missing TOP date": "SELECT count(*) FROM top WHERE top_date IS NULL",
    "exact duplicate": "SELECT count(*) FROM (SELECT count(*) n FROM episodes GROUP BY ALL HAVING n > 1)",
    "conflicting duplicate": "SELECT count(*) FROM (SELECT episode_id FROM (SELECT DISTINCT * FROM episodes) "
    "GROUP BY episode_id HAVING count(*) > 1)",
    "episode of an unknown client": "SELECT count(*) FROM episodes WHERE client_id NOT IN "
    "(SELECT client_id FROM clients)",
    "TOP of an unknown episode": "SELECT count(*) FROM top WHERE episode_id NOT IN (SELECT episode_id FROM episodes)",
    "discharge before start": "SELECT count(*) FROM episodes WHERE try_cast(discharge_date AS DATE) < "
    "try_cast(start_date AS DATE)",
    "TOP far outside its episode": "SELECT count(*) FROM top t JOIN episodes e USING (episode_id) WHERE "
    "try_cast(t.top_date AS DATE) < try_cast(e.start_date AS DATE) - 14",
    "old discharge number": "SELECT count(*) FROM episodes WHERE discharge_reason IN "
    f"{tuple(codes.OLD_DISCHARGE_CODES)}",
    "injecting as C/P/N/Z": "SELECT count(*) FROM assessments WHERE injecting_status IN ('C', 'P', 'N', 'Z')",
    "flag as 1/0": "SELECT count(*) FROM assessments WHERE assessor_independent IN ('1', '0')",
    "flag as true/false": "SELECT count(*) FROM top WHERE acute_housing_problem IN ('true', 'false')",
}


@pytest.fixture(scope="module")
def dirty_area(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, synth.SynthSummary]:
    out = tmp_path_factory.mktemp("dirty")
    return out, generate_area(2_000, 8, out, fmt="csv", dirty=True)


@pytest.mark.parametrize("kind", list(_DIRTY_CHECKS))
def test_dirty_mode_injects_each_kind(dirty_area: tuple[Path, synth.SynthSummary], kind: str) -> None:
    con = _connect(dirty_area[0], "csv")
    assert _scalar(con, _DIRTY_CHECKS[kind]) >= 1


def test_dirty_rows_are_one_to_two_percent(dirty_area: tuple[Path, synth.SynthSummary]) -> None:
    summary = dirty_area[1]
    assert 0.01 <= summary.dirty_rows / sum(summary.rows.values()) <= 0.02


def test_dirty_parquet_writes_spoilt_columns_as_text(tmp_path: Path) -> None:
    generate_area(1_000, 2, tmp_path, dirty=True)
    episodes = pq.read_schema(tmp_path / "episodes.parquet")
    assert episodes.field("start_date").type == pa.string()
    assert pq.read_schema(tmp_path / "top.parquet").field("opiate_days").type == pa.string()
    assert pq.read_schema(tmp_path / "clients.parquet").field("client_id").type == pa.string()


# --- calibration -----------------------------------------------------------------------------------------

_GROUP = ("CASE WHEN substances LIKE '%opiates%' THEN 'opiates' WHEN substances = 'alcohol' THEN 'alcohol' "
          "ELSE 'non_opiates' END")
_COMPLETED = "(discharge_reason IN ('completed_drug_free', 'completed_occasional_user'))::INT"
_IN_2014_15 = "discharge_date BETWEEN '2014-04-01' AND '2015-03-31'"


def _review_shares(con: duckdb.DuckDBPyConnection, substance: str, column: str) -> dict[str, float]:
    """Episodes of clients presenting with `substance` only, with a start TOP and a 6-month review TOP."""
    threshold = p.RELIABLE_CHANGE_DAYS[substance]
    low, high = p.SIX_MONTH_REVIEW_WINDOW
    row = con.execute(f"""
        SELECT avg((r.{column} = 0)::INT),
               avg((r.{column} > 0 AND s.{column} - r.{column} >= {threshold})::INT),
               avg((r.{column} - s.{column} >= {threshold})::INT)
        FROM started e
        JOIN top s ON s.episode_id = e.episode_id AND s.stage = 'start'
        JOIN top r ON r.episode_id = e.episode_id AND r.stage = 'review'
                  AND r.top_date - e.start_date BETWEEN {low} AND {high}
        WHERE e.substances = '{substance}'""").fetchone()
    assert row is not None
    return dict(zip(("abstinent", "improved", "deteriorated"), row, strict=True))


def measure_calibration(con: duckdb.DuckDBPyConnection) -> dict[str, float]:
    """Every CALIBRATION figure, computed from the written tables (treatment episodes: referrals that never
    started are not in the published figures)."""
    con.execute("CREATE OR REPLACE TEMP VIEW started AS SELECT * FROM episodes WHERE start_date IS NOT NULL")
    got: dict[str, float] = {}
    firsts = "(SELECT substances FROM started QUALIFY row_number() OVER (PARTITION BY client_id " \
             "ORDER BY start_date) = 1)"
    got["first_episode_opiate_group"], got["first_episode_alcohol_only"] = con.execute(
        f"SELECT avg((substances LIKE '%opiates%')::INT), avg((substances = 'alcohol')::INT) FROM {firsts}"
    ).fetchone() or ()
    for group, rate in con.execute(f"SELECT {_GROUP}, avg({_COMPLETED}) FROM started WHERE {_IN_2014_15} "
                                   "GROUP BY 1").fetchall():
        got[f"completion_2014_15_{group}"] = rate
    got["completion_2014_15_overall"] = _scalar(con, f"SELECT avg({_COMPLETED}) FROM started WHERE {_IN_2014_15}")
    got["completed_drug_free_share"] = _scalar(
        con, "SELECT avg((discharge_reason = 'completed_drug_free')::INT) FROM started WHERE "
        f"{_COMPLETED} = 1 AND substances NOT LIKE '%opiates%' AND substances NOT LIKE '%crack%'")
    for reason, share in con.execute(
        "SELECT discharge_reason, count(*) / sum(count(*)) OVER () FROM started WHERE discharge_reason IS NOT "
        f"NULL AND {_COMPLETED} = 0 GROUP BY 1"
    ).fetchall():
        got[f"non_completion_share_{reason}"] = share
    got["died_share_of_exits"] = _scalar(
        con, "SELECT avg((discharge_reason = 'died')::INT) FROM started WHERE discharge_reason IS NOT NULL")
    for substance, column in (("opiates", "opiate_days"), ("crack", "crack_days")):
        for outcome, share in _review_shares(con, substance, column).items():
            got[f"review_{substance}_{outcome}"] = share
    got["no_return_4y"] = _scalar(con, f"""
        WITH back AS (SELECT client_id, start_date AS day FROM started
                      UNION ALL SELECT client_id, presented_on FROM presentations)
        SELECT avg((NOT EXISTS (SELECT 1 FROM back b WHERE b.client_id = e.client_id AND b.day > e.discharge_date
                                AND b.day <= e.discharge_date + INTERVAL 4 YEAR))::INT)
        FROM started e WHERE e.discharge_date <= DATE '{EXTRACT}' - INTERVAL 4 YEAR""")
    return got


@pytest.mark.slow
def test_calibration_targets_hold_at_20000_clients(tmp_path: Path) -> None:
    generate_area(20_000, 1, tmp_path)
    measured = measure_calibration(_connect(tmp_path))
    assert {t.name for t in CALIBRATION} <= measured.keys()
    misses = {t.name: (t.target, round(measured[t.name], 4)) for t in CALIBRATION
              if abs(measured[t.name] - t.target) > t.tolerance}
    assert misses == {}


def test_reliable_change_thresholds_follow_from_the_baseline() -> None:
    assert p.RELIABLE_CHANGE_DAYS["opiates"] == 9
    assert p.RELIABLE_CHANGE_DAYS["crack"] == 5
    for substance, baseline in p.BASELINE_DAYS.items():
        pmf = baseline.pmf()
        mean = sum(k * x for k, x in enumerate(pmf))
        sd = math.sqrt(sum((k - mean) ** 2 * x for k, x in enumerate(pmf)))
        assert sum(pmf) == pytest.approx(1.0)
        assert sd == pytest.approx(p.BASELINE_SD_DAYS[substance], abs=0.3), substance


def test_calibration_targets_are_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [t.name for t in CALIBRATION if f"`{t.name}`" not in text] == []


def test_profiles_and_exit_shares_add_up() -> None:
    assert sum(prof.share for prof in p.PROFILES) == pytest.approx(1.0)
    for prof in p.PROFILES:
        assert sum(p.exit_shares(prof).values()) == pytest.approx(1.0)
        assert sum(prof.injecting) == pytest.approx(1.0)
    assert 0 < p.OTHER_RETURN.within_4_years < 1


# --- arguments and API -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("clients", "seed", "fmt"), [
    (0, 1, "csv"), (-5, 1, "csv"), (True, 1, "csv"), (2.5, 1, "csv"), (10, -1, "csv"), (10, 1, "json"),
    (2_000_000, 1, "xlsx"),
])
def test_bad_arguments_raise_data_error_with_a_hint(tmp_path: Path, clients: object, seed: int, fmt: str) -> None:
    with pytest.raises(DataError) as error:
        generate_area(clients, seed, tmp_path / "out", fmt=fmt)  # type: ignore[arg-type]
    assert error.value.hint


def test_a_sheet_too_big_for_xlsx_is_refused_before_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(synth_write, "XLSX_MAX_ROWS", 500)
    with pytest.raises(DataError, match="more than 500 rows") as error:
        generate_area(300, 1, tmp_path, fmt="xlsx")
    assert "csv or parquet" in error.value.hint
    assert not (tmp_path / "area.xlsx").exists()


def test_public_api() -> None:
    assert synth.__all__ == ["CALIBRATION", "SynthSummary", "generate_area"]
    assert synth.SynthSummary.__dataclass_params__.frozen  # type: ignore[attr-defined]
