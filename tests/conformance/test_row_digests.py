"""The data digest read from the rows' kept MD5 parts (`warehouse.row_digests`) is the digest worked out from their
cells, on every engine (conftest.ENGINES): for rows stored with their parts, rows stored without them, a mixture, and
an episode whose discharge the as-of date hides (its kept parts are for the row as loaded, so they are not read)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from recoverypbr.outcomes.cases import arrow_rows, case_warehouse
from recoverypbr.payments.fingerprint import data_sha256
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.row_digests import DIGEST_COLUMNS, DIGESTED_TABLES

TABLES = {
    "clients": [{"client_id": f"C{i}", "birth_year": 1970 + i, "sex": "F" if i % 2 else "M"} for i in range(4)],
    "episodes": [
        {"episode_id": "E0", "client_id": "C0", "provider_id": "P1", "start_date": dt.date(2012, 5, 1),
         "discharge_date": dt.date(2013, 2, 1), "discharge_reason": "completed_drug_free"},
        {"episode_id": "E1", "client_id": "C1", "provider_id": "P1", "start_date": dt.date(2012, 6, 1)},
        # Discharged after 2013-06-30: seen as open then.
        {"episode_id": "E2", "client_id": "C2", "provider_id": "P2", "start_date": dt.date(2012, 7, 1),
         "discharge_date": dt.date(2014, 1, 10), "discharge_reason": "dropped_out"},
        # Triaged before the as-of date, started after it.
        {"episode_id": "E3", "client_id": "C3", "provider_id": "P2", "triage_date": dt.date(2013, 6, 1),
         "start_date": dt.date(2013, 8, 1), "stock_or_flow": "flow"},
    ],
    "top": [{"top_id": f"T{i}", "client_id": "C0", "episode_id": "E0", "top_date": dt.date(2012, 5, 1 + i),
             "stage": "start" if i == 0 else "review", "alcohol_units": units}
            for i, units in enumerate((0.0625, 12.5, 3.0005))],
    "events": [{"client_id": "C1", "episode_id": "E1", "event_date": dt.date(2013, 1, 5), "event_type": "hep_b_dose"}],
    "presentations": [{"client_id": "C0", "presented_on": dt.date(2013, 12, 1), "setting": "treatment"}],
    "assessments": [{"assessment_id": f"A{i}", "client_id": f"C{i}", "assessed_on": dt.date(2012, 4, 20),
                     "years_of_use": 5 * i} for i in range(4)],
    "offending_individual": [{"client_id": "C1", "offence_date": dt.date(2012, 9, 9), "offences": 2}],
    "offending_cohort": [{"cohort_id": "K", "period_start": dt.date(2011, 4, 1), "period_end": dt.date(2012, 3, 31),
                          "people": 40, "offences": 90, "is_baseline": True}],
}
DATES = (dt.date(2012, 6, 30), dt.date(2013, 6, 30), dt.date(2014, 6, 30))


def _worked_out(wh: Warehouse) -> list[str]:
    """The digests with every kept part forgotten: each row's MD5 worked out from its cells."""
    for name in DIGESTED_TABLES:
        wh.execute(f'UPDATE "{name}" SET ' + ", ".join(f'"{c}" = NULL' for c in DIGEST_COLUMNS))
    return [data_sha256(wh, day) for day in DATES]


def test_every_row_stored_keeps_its_digest(engine: str, warehouse_target: Path | str) -> None:
    with case_warehouse(TABLES, warehouse_target) as wh:
        for name in DIGESTED_TABLES:
            assert wh.execute(f'SELECT count(*) FROM "{name}" WHERE "digest0" IS NULL') == [(0,)], name


def test_the_digest_from_kept_parts_is_the_digest_worked_out(engine: str, warehouse_target: Path | str) -> None:
    with case_warehouse(TABLES, warehouse_target) as wh:
        kept = [data_sha256(wh, day) for day in DATES]
        # A row inserted without its parts (as a tool writing rows itself would) is worked out beside the others.
        late = [{"client_id": "C1", "presented_on": dt.date(2013, 3, 3), "setting": "treatment"}]
        wh.insert("presentations", wh.register_arrow("_late", arrow_rows("presentations", late)))
        wh.unregister("_late")
        mixed = [data_sha256(wh, day) for day in DATES]
        assert mixed[0] == kept[0] and mixed[1:] != kept[1:]
        assert mixed == _worked_out(wh)
    with case_warehouse(TABLES) as reference:
        assert _worked_out(reference) == kept


def test_a_load_keeps_every_rows_digest_and_a_reload_keeps_them(engine: str, warehouse_target: Path | str) -> None:
    # The loader stores each row with its parts, new rows and changed rows alike (a second load of the same files
    # changes nothing); the digest read from them is the one worked out from the cells.
    from helpers import DIRTY

    from recoverypbr import load_extract, open_warehouse

    target = ":memory:" if engine == "duckdb" else warehouse_target
    with (Warehouse(":memory:") if target == ":memory:" else open_warehouse(target, lock=False)) as wh:
        from recoverypbr.warehouse.migrations import migrate

        migrate(wh)
        load_extract(wh, DIRTY)
        load_extract(wh, DIRTY)
        for name in DIGESTED_TABLES:
            assert wh.execute(f'SELECT count(*) FROM "{name}" WHERE "digest0" IS NULL') == [(0,)], name
        assert wh.execute('SELECT count(*) FROM "episodes"')[0][0] > 0
        kept = [data_sha256(wh, day) for day in DATES]
        assert kept == _worked_out(wh)


#: `data_sha256` of TABLES on DATES as recoverypbr worked it out before rows kept their parts (at 33ec9aa, every
#: row's MD5 from its cells): the fingerprints of statements made before the change stay the same.
BEFORE = ["57401a3d7fd8f405a0fe8504af1eae061749c1642cd4de3095bb0f38ebd017af",
          "db8767cdd9815415561655baa91b5929b1cf5a62e9f46603409227d4e60a37f8",
          "8b97924410e365549bf83e7a030441204cce247f22d46f5f44e0af51f85f65f5"]


def test_the_digest_is_the_one_worked_out_before_rows_kept_their_parts(engine: str,
                                                                       warehouse_target: Path | str) -> None:
    with case_warehouse(TABLES, warehouse_target) as wh:
        assert [data_sha256(wh, day) for day in DATES] == BEFORE


def test_an_episode_with_a_reason_but_no_date_is_worked_out_as_shown() -> None:
    # The as-of view shows no discharge reason without a discharge date, so that row's kept parts (of the row as
    # stored, with its reason) are not read.
    odd = {**TABLES, "episodes": [*TABLES["episodes"], {"episode_id": "E4", "client_id": "C3", "provider_id": "P1",
                                                        "start_date": dt.date(2012, 8, 1),
                                                        "discharge_reason": "dropped_out"}]}
    with case_warehouse(odd) as wh:
        kept = [data_sha256(wh, day) for day in DATES]
        assert kept == _worked_out(wh)


def test_migrating_to_version_12_works_out_the_parts_of_stored_rows(engine: str, warehouse_target: Path | str,
                                                                    tmp_path: Path) -> None:
    # A warehouse as version 11 left it (no digest columns; its rows stored without parts) is migrated when opened
    # for writing: every row gets its parts (in SQL each engine runs: PostgreSQL's through its own dialect), and
    # the digest is the one worked out before.
    from recoverypbr import open_warehouse
    from recoverypbr.warehouse.migrations import SCHEMA_VERSION, current_version

    target = tmp_path / "v11.duckdb" if engine == "duckdb" else warehouse_target
    with open_warehouse(target, lock=False) as wh:
        for name in DIGESTED_TABLES:
            for column in DIGEST_COLUMNS:
                wh.execute(f'ALTER TABLE "{name}" DROP COLUMN "{column}"')
        wh.execute("DELETE FROM schema_version WHERE version = 12")
        for name, rows in TABLES.items():
            wh.insert(name, wh.register_arrow(f"_{name}", arrow_rows(name, rows)))
            wh.unregister(f"_{name}")
    with open_warehouse(target, lock=False) as wh:
        assert current_version(wh) == SCHEMA_VERSION
        for name in DIGESTED_TABLES:
            assert wh.execute(f'SELECT count(*) FROM "{name}" WHERE "digest3" IS NULL') == [(0,)], name
        assert [data_sha256(wh, day) for day in DATES] == BEFORE
