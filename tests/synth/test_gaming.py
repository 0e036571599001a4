"""Injected gaming (`synth --gaming KIND=STRENGTH --gaming-provider P`): each kind changes only the gaming
provider's rows from go-live, in the expected direction, and the area still loads without new quarantine."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from recoverypbr import load_extract
from recoverypbr.synth import generate_area
from recoverypbr.synth import params as p
from recoverypbr.synth.gaming import ANSWER_COLUMNS, parse_gaming
from recoverypbr.synth.tables import TABLE_NAMES
from recoverypbr.warehouse.connection import Warehouse

CLIENTS, SEED, PEERS, GAMER, STRENGTH = 1_200, 9, 4, "P02", 0.6
GO_LIVE = p.GO_LIVE.isoformat()
EXTRACT = p.EXTRACT_DATE.isoformat()
KINDS = p.GAMING_KINDS
#: For the changed rows of each table: the provider they belong to and whether they lie from go-live.
_OWNER = {
    "episodes": f"SELECT provider_id, coalesce(discharge_date, DATE '{EXTRACT}') >= DATE '{GO_LIVE}' FROM x",
    "top": f"SELECT e.provider_id, x.top_date >= DATE '{GO_LIVE}' FROM x JOIN clean.episodes e USING (episode_id)",
    "events": f"SELECT e.provider_id, x.event_date >= DATE '{GO_LIVE}' FROM x JOIN clean.episodes e "
              "USING (episode_id)",
    "assessments": "SELECT coalesce(e.provider_id, x.assessor_org), coalesce(e.start_date, e.referral_date, "
                   f"x.assessed_on) >= DATE '{GO_LIVE}' FROM x LEFT JOIN clean.episodes e ON x.assessment_id = "
                   "'A' || substr(e.episode_id, 2) AND e.episode_id LIKE 'E%' OR x.assessment_id = 'A' || e.episode_id",
    "feedback": f"SELECT provider_id, response_date >= DATE '{GO_LIVE}' FROM x",
}


@pytest.fixture(scope="module")
def areas(tmp_path_factory: pytest.TempPathFactory) -> tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]]:
    """One connection with schemas `clean` and one per kind (gamed at STRENGTH by GAMER), same seed."""
    root = tmp_path_factory.mktemp("gaming")
    con = duckdb.connect()
    gamed = {}
    for name in ("clean", *KINDS):
        gaming = None if name == "clean" else f"{name}={STRENGTH}"
        summary = generate_area(CLIENTS, SEED, root / name, providers=PEERS, gaming=gaming,
                                gaming_provider=None if gaming is None else GAMER)
        gamed[name] = summary.gamed.get(name, {})
        con.execute(f"CREATE SCHEMA {name}")
        for table in TABLE_NAMES:
            con.execute(f"CREATE VIEW {name}.{table} AS SELECT * FROM read_parquet('{root / name / table}.parquet')")
    return con, gamed


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> float:
    row = con.execute(sql).fetchone()
    assert row is not None
    return float(row[0])


@pytest.mark.parametrize("kind", KINDS)
def test_only_the_gaming_providers_rows_from_go_live_change(
        areas: tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]], kind: str) -> None:
    con, gamed = areas
    assert gamed[kind] and sum(gamed[kind].values()) > 0
    changed: dict[str, int] = {}
    for table in TABLE_NAMES:
        diff = (f"(SELECT * FROM {kind}.{table} EXCEPT ALL SELECT * FROM clean.{table}) UNION ALL "
                f"(SELECT * FROM clean.{table} EXCEPT ALL SELECT * FROM {kind}.{table})")
        changed[table] = int(_one(con, f"SELECT count(*) FROM ({diff})"))
        if table not in _OWNER:
            assert changed[table] == 0, table
            continue
        owners = con.execute(f"WITH x AS ({diff}) {_OWNER[table]}").fetchall()
        assert len(owners) >= changed[table]
        assert {owner for owner, _ in owners} <= {GAMER}, (table, owners[:5])
        assert all(after for _, after in owners), table
    assert sum(changed.values()) > 0


def _high_share(con: duckdb.DuckDBPyConnection, area: str, provider: str) -> float:
    return _one(con, f"SELECT avg((a.complexity_group = 'high')::INT) FROM {area}.episodes e JOIN {area}.assessments "
                     "a ON a.assessment_id = 'A' || substr(e.episode_id, 2) AND e.episode_id LIKE 'E%' "
                     f"WHERE e.provider_id = '{provider}' AND e.start_date >= DATE '{GO_LIVE}'")


def test_assessment_inflation_raises_the_high_share_and_adds_the_providers_own_reassessments(
        areas: tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]]) -> None:
    con, gamed = areas
    assert _high_share(con, "assessment", GAMER) > _high_share(con, "clean", GAMER) + 0.15
    assert _high_share(con, "assessment", "P01") == _high_share(con, "clean", "P01")
    rows = con.execute("SELECT assessor_org, assessor_independent, count(*) FROM assessment.assessments "
                       "WHERE assessment_id LIKE 'AG%' GROUP BY ALL").fetchall()
    assert rows == [(GAMER, "N", gamed["assessment"]["re-assessments by the provider"])]
    share = gamed["assessment"]["re-assessments by the provider"] / gamed["assessment"]["assessments inflated"]
    assert 0.3 < share <= 0.55  # half of the inflated, less those too close to a discharge
    # each re-assessment is 30-90 days after its episode's start, and never in a lower group than the first
    bad = _one(con, """
        SELECT count(*) FROM assessment.assessments g
        JOIN assessment.assessments f ON f.client_id = g.client_id AND f.assessment_id LIKE 'A0%'
        JOIN assessment.episodes e ON f.assessment_id = 'A' || substr(e.episode_id, 2)
        WHERE g.assessment_id LIKE 'AG%' AND g.assessed_on - e.start_date BETWEEN 30 AND 90
          AND list_position(['low', 'medium', 'high'], g.complexity_group)
            < list_position(['low', 'medium', 'high'], f.complexity_group)""")
    assert bad == 0


def _conversion(con: duckdb.DuckDBPyConnection, area: str, group: str = "high") -> tuple[float, float, float]:
    """Of the gamer's referrals from go-live in `group`: share started, mean wait triage to start, reviews."""
    row = con.execute(f"""
        SELECT avg((e.start_date IS NOT NULL)::INT), avg(e.start_date - e.triage_date),
               (SELECT count(*) FROM {area}.top t JOIN {area}.episodes x USING (episode_id)
                JOIN {area}.assessments b ON b.assessment_id = 'A' || substr(x.episode_id, 2)
                WHERE t.stage = 'review' AND x.provider_id = '{GAMER}' AND b.complexity_group = '{group}')
        FROM {area}.episodes e JOIN {area}.assessments a ON a.assessment_id = CASE WHEN e.episode_id LIKE 'R%'
             THEN 'A' || e.episode_id ELSE 'A' || substr(e.episode_id, 2) END
        WHERE e.provider_id = '{GAMER}' AND e.referral_date >= DATE '{GO_LIVE}' AND a.complexity_group = '{group}'
        """).fetchone()
    assert row is not None
    return float(row[0]), float(row[1]), float(row[2])


def test_creaming_and_parking_turn_away_delay_and_park_the_high_group(
        areas: tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]]) -> None:
    con, gamed = areas
    started, wait, reviews = _conversion(con, "creaming_parking")
    clean_started, clean_wait, clean_reviews = _conversion(con, "clean")
    assert started < clean_started - 0.3
    assert wait > clean_wait + 10
    assert reviews < 0.7 * clean_reviews
    assert _conversion(con, "creaming_parking", "low")[0] == _conversion(con, "clean", "low")[0]
    declined = "SELECT count(*) FROM {}.episodes WHERE provider_id = '" + GAMER + "' AND start_date IS NULL"
    assert _one(con, declined.format("creaming_parking")) > _one(con, declined.format("clean"))
    made_unplanned = _one(con, """
        SELECT count(*) FROM creaming_parking.episodes g JOIN clean.episodes c USING (episode_id)
        WHERE g.discharge_reason = 'dropped_out' AND g.start_date IS NOT NULL AND (c.discharge_reason IS NULL OR
              c.discharge_reason IN ('completed_drug_free', 'completed_occasional_user', 'transferred_community'))
        """)
    assert made_unplanned == gamed["creaming_parking"]["high-group exits made unplanned"] > 0


def _quarter_edges(con: duckdb.DuckDBPyConnection, area: str) -> tuple[float, float]:
    """The gamer's discharges from go-live in days 1-14 of a quarter, and in its last 21 days."""
    row = con.execute(f"""
        SELECT count(*) FILTER (WHERE discharge_date - date_trunc('quarter', discharge_date)::DATE < 14),
               count(*) FILTER (WHERE date_trunc('quarter', discharge_date)::DATE + INTERVAL 3 MONTH
                                      - discharge_date <= INTERVAL 21 DAY)
        FROM {area}.episodes WHERE provider_id = '{GAMER}' AND discharge_date >= DATE '{GO_LIVE}'
          AND start_date IS NOT NULL""").fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def test_timing_moves_discharges_over_the_quarter_edge(
        areas: tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]]) -> None:
    con, gamed = areas
    early, late = _quarter_edges(con, "timing")
    clean_early, clean_late = _quarter_edges(con, "clean")
    moved = gamed["timing"]["discharges moved into the next quarter"]
    assert moved > 20
    assert (early, late) == (clean_early + moved, clean_late - moved)
    # the exit TOP moved with its discharge: still inside the episode, nothing after the extract
    assert _one(con, "SELECT count(*) FROM timing.top t JOIN timing.episodes e USING (episode_id) WHERE "
                     f"t.top_date > DATE '{EXTRACT}' OR (t.stage = 'exit' AND t.top_date > e.discharge_date) OR "
                     "(t.stage = 'post_exit' AND t.top_date <= e.discharge_date)") == 0


def _misreported(con: duckdb.DuckDBPyConnection, area: str) -> tuple[float, float, float, float]:
    """The gamer's review TOPs from go-live with no use of the presenting substance, repeated answer vectors,
    completions among its exits from go-live, and its mean feedback score."""
    answers = ", ".join(ANSWER_COLUMNS)
    row = con.execute(f"""
        WITH mine AS (SELECT t.* FROM {area}.top t JOIN {area}.episodes e USING (episode_id)
                      WHERE e.provider_id = '{GAMER}' AND t.top_date >= DATE '{GO_LIVE}')
        SELECT (SELECT avg((opiate_days = 0)::INT) FROM mine JOIN {area}.episodes USING (episode_id)
                WHERE stage = 'review' AND substances LIKE '%opiates%'),
               (SELECT max(n) FROM (SELECT count(*) n FROM mine GROUP BY {answers})),
               (SELECT avg((discharge_reason LIKE 'completed%')::INT) FROM {area}.episodes
                WHERE provider_id = '{GAMER}' AND start_date >= DATE '{GO_LIVE}' AND discharge_date IS NOT NULL),
               (SELECT avg(score) FROM {area}.feedback WHERE provider_id = '{GAMER}')""").fetchone()
    assert row is not None
    return float(row[0]), float(row[1]), float(row[2]), float(row[3])


def test_misrepresentation_heaps_at_zero_copies_answers_completes_drop_outs_and_users_disagree(
        areas: tuple[duckdb.DuckDBPyConnection, dict[str, dict[str, int]]]) -> None:
    con, gamed = areas
    zero, copies, completed, score = _misreported(con, "misrepresentation")
    clean_zero, clean_copies, clean_completed, clean_score = _misreported(con, "clean")
    assert zero > clean_zero + 0.15
    # some copies are reviews dropped afterwards (of drop-outs recorded as completions)
    assert copies >= 0.8 * gamed["misrepresentation"]["TOPs copied from a template"] > 10 * clean_copies
    assert completed > clean_completed + 0.05
    assert score < clean_score
    assert _one(con, "SELECT min(quality_of_life) FROM misrepresentation.top t JOIN misrepresentation.episodes e "
                     f"USING (episode_id) WHERE e.provider_id = '{GAMER}' AND t.stage = 'review' AND t.top_date >= "
                     f"DATE '{GO_LIVE}' AND t.opiate_days = 0 AND e.substances LIKE '%opiates%'") >= 0


def test_strengths_scale_the_gaming(tmp_path: Path) -> None:
    counts = [generate_area(600, 3, tmp_path / str(s), providers=3, gaming={"timing": s, "assessment": s},
                            gaming_provider="P01").gamed for s in (0.2, 0.8)]
    assert counts[0]["assessment"]["assessments inflated"] * 2 < counts[1]["assessment"]["assessments inflated"]
    assert counts[0]["timing"]["discharges moved into the next quarter"] < counts[1]["timing"][
        "discharges moved into the next quarter"]


def test_parse_gaming() -> None:
    assert parse_gaming("assessment=0.5, timing=1") == {"assessment": 0.5, "timing": 1.0}
    assert parse_gaming(None) == {}


@pytest.mark.slow  # loading takes about 13 s, most of it fixed
def test_a_gamed_area_loads_with_nothing_kept_aside(wh: Warehouse, tmp_path: Path) -> None:
    every = ",".join(f"{kind}=0.8" for kind in KINDS)
    generate_area(400, 5, tmp_path / "area", fmt="csv", providers=4, gaming=every, gaming_provider="P04")
    load_extract(wh, tmp_path / "area")
    assert wh.execute("SELECT table_name, rule, count(*) FROM quarantine GROUP BY ALL") == []
    rows = dict(wh.execute("SELECT provider_id, count(*) FROM episodes WHERE start_date IS NULL GROUP BY 1"))
    assert rows["P04"] > max(n for provider, n in rows.items() if provider != "P04")


@pytest.mark.parametrize("providers", [None, 3])
def test_ids_stay_unique_across_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, providers: int | None) -> None:
    monkeypatch.setattr(p, "CHUNK_CLIENTS", 100)
    every = ",".join(f"{kind}=0.7" for kind in KINDS)
    summary = generate_area(250, 2, tmp_path, providers=providers, gaming=every, gaming_provider="P02")
    assert summary.gamed["assessment"]["re-assessments by the provider"] > 0
    con = duckdb.connect()
    for name, key, prefix in (("episodes", "episode_id", "R"), ("assessments", "assessment_id", "AG"),
                              ("top", "top_id", "T")):
        found = con.execute(f"SELECT count(*) - count(DISTINCT {key}), count(*) FILTER (WHERE {key} LIKE "
                            f"'{prefix}%') FROM read_parquet('{tmp_path / name}.parquet')").fetchone()
        assert found is not None and found[0] == 0 and found[1] > 0, name
