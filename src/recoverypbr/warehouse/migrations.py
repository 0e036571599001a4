"""The warehouse schema and its versions.

Each migration moves the schema one version forward and is recorded in `schema_version`. A warehouse
written by a newer recoverypbr is refused rather than guessed at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from recoverypbr.data.schema import TABLES, Table
from recoverypbr.errors import WarehouseError
from recoverypbr.warehouse.connection import Warehouse
from recoverypbr.warehouse.row_digests import DIGEST_COLUMNS, DIGESTED_TABLES, fill_digests

#: Columns every loaded table carries besides its canonical ones.
PROVENANCE_COLUMNS = (("load_id", "BIGINT"), ("source_row", "BIGINT"))


def data_table_columns(table: Table) -> list[tuple[str, str]]:
    """(name, SQL type) of a canonical table as stored: key extras, canonical columns, provenance."""
    extras = [(k, "VARCHAR") for k in table.key if k not in table.column_names]
    return [*extras, *((c.name, c.sql_type) for c in table.columns), *PROVENANCE_COLUMNS]


def stored_table_columns(table: Table) -> list[tuple[str, str]]:
    """(name, SQL type) of a canonical table as stored at the current schema version: `data_table_columns` (as
    version 1 made it), then its rows' digests for an input table (version 12, `row_digests`)."""
    digests = [(c, "BIGINT") for c in DIGEST_COLUMNS] if table.name in DIGESTED_TABLES else []
    return [*data_table_columns(table), *digests]


def _create_data_tables(wh: Warehouse) -> None:
    for table in TABLES:
        cols = ", ".join(f'"{name}" {sql_type}' for name, sql_type in data_table_columns(table))
        # No PRIMARY KEY: the loader keeps keys unique, and DuckDB's eager index checks would refuse
        # the delete-then-insert of an upsert inside one transaction.
        wh.execute(f'CREATE TABLE "{table.name}" ({cols})')


def _create_load_tables(wh: Warehouse) -> None:
    wh.execute(
        "CREATE TABLE loads (load_id BIGINT PRIMARY KEY, source VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,"
        " finished_at TIMESTAMP NOT NULL, rows_read BIGINT NOT NULL, rows_changed BIGINT NOT NULL,"
        " rows_quarantined BIGINT NOT NULL, program_version VARCHAR NOT NULL)"
    )
    wh.execute(
        "CREATE TABLE load_files (load_id BIGINT NOT NULL, table_name VARCHAR NOT NULL, file VARCHAR NOT NULL,"
        " sha256 VARCHAR NOT NULL, rows_read BIGINT NOT NULL, rows_new BIGINT NOT NULL,"
        " rows_updated BIGINT NOT NULL, rows_unchanged BIGINT NOT NULL, rows_quarantined BIGINT NOT NULL,"
        " PRIMARY KEY (load_id, table_name, file))"
    )
    wh.execute(
        "CREATE TABLE quarantine (load_id BIGINT NOT NULL, table_name VARCHAR NOT NULL, file VARCHAR NOT NULL,"
        " sha256 VARCHAR NOT NULL, row_number BIGINT NOT NULL, column_name VARCHAR NOT NULL, value VARCHAR,"
        " rule VARCHAR NOT NULL, reason VARCHAR NOT NULL, record_key VARCHAR,"
        " PRIMARY KEY (sha256, table_name, row_number, column_name, reason))"
    )


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    apply: Callable[[Warehouse], None]


def _initial(wh: Warehouse) -> None:
    _create_data_tables(wh)
    _create_load_tables(wh)


def _complexity_groups(wh: Warehouse) -> None:
    # No PRIMARY KEY (see _create_data_tables): `recoverypbr assess` deletes and re-inserts a contract's rows.
    wh.execute(
        "CREATE TABLE complexity_groups (episode_id VARCHAR NOT NULL, client_id VARCHAR NOT NULL,"
        " assessment_id VARCHAR, assessed_on DATE, complexity_group VARCHAR, rule_id VARCHAR NOT NULL,"
        " rule_text VARCHAR NOT NULL, points BIGINT, recorded_group VARCHAR, agrees BOOLEAN,"
        " contract_area VARCHAR NOT NULL, contract_version DATE NOT NULL, evaluated_at TIMESTAMP NOT NULL)"
    )


def _outcome_ledger(wh: Warehouse) -> None:
    # One row per contract version, as-of date, outcome, client and episode; `recoverypbr outcomes` replaces a
    # (contract_area, contract_version, as_of) at once, so no PRIMARY KEY (see _create_data_tables).
    wh.execute(
        "CREATE TABLE outcome_ledger (contract_area VARCHAR NOT NULL, contract_version DATE NOT NULL,"
        " as_of DATE NOT NULL, outcome_id VARCHAR NOT NULL, outcome_type VARCHAR NOT NULL,"
        " client_id VARCHAR NOT NULL, episode_id VARCHAR NOT NULL, provider_id VARCHAR, complexity_group VARCHAR,"
        " status VARCHAR NOT NULL, achieved_on DATE, matures_on DATE, evidence VARCHAR NOT NULL)"
    )


def _statements(wh: Warehouse) -> None:
    # Approved statements are written once and never updated or deleted (docs/statements.md): later data or audit
    # findings become adjustment lines in a later statement, so both tables can carry primary keys.
    wh.execute(
        "CREATE TABLE statements (statement_id VARCHAR PRIMARY KEY, contract_area VARCHAR NOT NULL,"
        " contract_version DATE NOT NULL, provider_id VARCHAR NOT NULL, period_label VARCHAR NOT NULL,"
        " period_start DATE NOT NULL, period_end DATE NOT NULL, as_of DATE NOT NULL, fingerprint VARCHAR NOT NULL,"
        " contract_sha256 VARCHAR NOT NULL, data_sha256 VARCHAR NOT NULL, program_version VARCHAR NOT NULL,"
        " total_pence BIGINT NOT NULL, line_count INTEGER NOT NULL, approved_at TIMESTAMP NOT NULL,"
        " approved_by VARCHAR NOT NULL, note VARCHAR NOT NULL, document VARCHAR NOT NULL)"
    )
    wh.execute(
        "CREATE TABLE statement_lines (statement_id VARCHAR NOT NULL, line_no INTEGER NOT NULL,"
        " kind VARCHAR NOT NULL, provider_id VARCHAR NOT NULL, reference VARCHAR NOT NULL,"
        " amount_pence BIGINT NOT NULL, payable_on DATE NOT NULL, client_id VARCHAR, episode_id VARCHAR,"
        " outcome_id VARCHAR, complexity_group VARCHAR, stock_or_flow VARCHAR, evidence VARCHAR NOT NULL,"
        " corrects VARCHAR NOT NULL, share VARCHAR NOT NULL, whole_pence BIGINT, adjusts VARCHAR NOT NULL,"
        " PRIMARY KEY (statement_id, line_no))"
    )


def _outcome_runs(wh: Warehouse) -> None:
    # The ledger is stored as one row per episode per run (`outcome_run_N`, made by build_ledger) and shown as one
    # row per outcome by the view `outcome_ledger`; rows stored before this version stay readable through it.
    wh.execute("ALTER TABLE outcome_ledger RENAME TO outcome_ledger_rows")
    wh.execute(
        "CREATE TABLE outcome_runs (run_id BIGINT NOT NULL, contract_area VARCHAR NOT NULL,"
        " contract_version DATE NOT NULL, as_of DATE NOT NULL, table_name VARCHAR NOT NULL,"
        " stored_at TIMESTAMP NOT NULL)"
    )
    wh.execute(
        "CREATE TABLE outcome_run_outcomes (run_id BIGINT NOT NULL, position INTEGER NOT NULL,"
        " outcome_id VARCHAR NOT NULL, outcome_type VARCHAR NOT NULL, evidence VARCHAR NOT NULL, top_pass INTEGER,"
        " uses_start BOOLEAN NOT NULL)"
    )
    wh.execute("CREATE VIEW outcome_ledger AS SELECT * FROM outcome_ledger_rows")


def _load_notes_and_owners(wh: Warehouse) -> None:
    # How each file was read (encoding, separator) and its warnings (a table shrinking sharply); and, per entry
    # kept aside, the client, episode and provider its row names, so a provider is sent only its own rows.
    wh.execute("ALTER TABLE load_files ADD COLUMN notes VARCHAR DEFAULT ''")
    for column in ("client_id", "episode_id", "provider_id"):
        wh.execute(f"ALTER TABLE quarantine ADD COLUMN {column} VARCHAR")


def _statement_sets(wh: Warehouse) -> None:
    # Where `pay` last wrote each period's statement set, and how, so `approve` can write it again with the approved
    # status. `pay` replaces a folder's row (delete, then insert), so no PRIMARY KEY (see _create_data_tables).
    wh.execute(
        "CREATE TABLE statement_sets (contract_area VARCHAR NOT NULL, contract_version DATE NOT NULL,"
        " period_label VARCHAR NOT NULL, folder VARCHAR NOT NULL, as_of DATE NOT NULL, providers VARCHAR,"
        " formats VARCHAR NOT NULL, written_at TIMESTAMP NOT NULL)"
    )


def _audit(wh: Warehouse) -> None:
    # Audit samples, their lines and the auditors' findings are written once and never updated (a finding reverses
    # a payment through an adjustment, never by editing a statement), so all three carry primary keys.
    wh.execute(
        "CREATE TABLE audit_samples (sample_id VARCHAR PRIMARY KEY, contract_area VARCHAR NOT NULL,"
        " contract_version DATE NOT NULL, period_label VARCHAR NOT NULL, as_of DATE NOT NULL, seed BIGINT NOT NULL,"
        " size INTEGER NOT NULL, statements_sha256 VARCHAR NOT NULL, design VARCHAR NOT NULL,"
        " recorded_at TIMESTAMP NOT NULL)"
    )
    wh.execute(
        "CREATE TABLE audit_sample_lines (sample_id VARCHAR NOT NULL, line_no INTEGER NOT NULL,"
        " statement_id VARCHAR NOT NULL, statement_line INTEGER NOT NULL, kind VARCHAR NOT NULL,"
        " provider_id VARCHAR NOT NULL, reference VARCHAR NOT NULL, client_id VARCHAR NOT NULL, episode_id VARCHAR,"
        " outcome_id VARCHAR, complexity_group VARCHAR, amount_pence BIGINT NOT NULL, stratum VARCHAR NOT NULL,"
        " inclusion_probability DOUBLE NOT NULL, PRIMARY KEY (sample_id, line_no))"
    )
    wh.execute(
        "CREATE TABLE audit_findings (finding_id VARCHAR PRIMARY KEY, sample_id VARCHAR NOT NULL,"
        " line_no INTEGER NOT NULL, contract_area VARCHAR NOT NULL, period_label VARCHAR NOT NULL,"
        " statement_id VARCHAR NOT NULL, statement_line INTEGER NOT NULL, reference VARCHAR NOT NULL,"
        " client_id VARCHAR NOT NULL, episode_id VARCHAR, outcome_id VARCHAR, provider_id VARCHAR NOT NULL,"
        " amount_pence BIGINT NOT NULL, verdict VARCHAR NOT NULL, reason VARCHAR NOT NULL,"
        " recorded_by VARCHAR NOT NULL, recorded_on DATE NOT NULL, UNIQUE (sample_id, line_no))"
    )


def _web(wh: Warehouse) -> None:
    # The web app's users (an Argon2 hash, never a password) and its tamper-evident audit log: each entry carries the
    # hash of the one before, so an edit, a deletion or a reordering breaks the chain (`recoverypbr audit verify`).
    wh.execute(
        "CREATE TABLE web_users (user_name VARCHAR PRIMARY KEY, role VARCHAR NOT NULL, provider_id VARCHAR,"
        " password_hash VARCHAR NOT NULL, disabled BOOLEAN NOT NULL, created_at TIMESTAMP NOT NULL,"
        " password_set_at TIMESTAMP NOT NULL)"
    )
    wh.execute(
        "CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, logged_at TIMESTAMP NOT NULL, actor VARCHAR NOT NULL,"
        " role VARCHAR NOT NULL, action VARCHAR NOT NULL, target VARCHAR NOT NULL, detail VARCHAR NOT NULL,"
        " prev_hash VARCHAR NOT NULL, hash VARCHAR NOT NULL)"
    )


def _priced_periods(wh: Warehouse) -> None:
    # What `pay` priced, per schedule period, for one contract content, one input data digest (which includes the
    # as-of date) and one program version: the same inputs give the same lines, so `pay` again, `approve` and the
    # web app's approval read them instead of pricing every period from the contract's start again.
    wh.execute(
        "CREATE TABLE priced_periods (contract_area VARCHAR NOT NULL, contract_version DATE NOT NULL,"
        " contract_sha256 VARCHAR NOT NULL, data_sha256 VARCHAR NOT NULL, program_version VARCHAR NOT NULL,"
        " as_of DATE NOT NULL, period_label VARCHAR NOT NULL, line_count BIGINT NOT NULL, total_pence BIGINT NOT NULL,"
        " unpriced VARCHAR NOT NULL, priced_at TIMESTAMP NOT NULL,"
        " PRIMARY KEY (contract_sha256, data_sha256, program_version, period_label))"
    )
    wh.execute(
        "CREATE TABLE priced_lines (contract_sha256 VARCHAR NOT NULL, data_sha256 VARCHAR NOT NULL,"
        " program_version VARCHAR NOT NULL, period_label VARCHAR NOT NULL, line_no BIGINT NOT NULL,"
        " kind VARCHAR NOT NULL, provider_id VARCHAR NOT NULL, reference VARCHAR NOT NULL,"
        " amount_pence BIGINT NOT NULL, payable_on DATE NOT NULL, client_id VARCHAR, episode_id VARCHAR,"
        " outcome_id VARCHAR, complexity_group VARCHAR, stock_or_flow VARCHAR, evidence VARCHAR NOT NULL,"
        " corrects VARCHAR NOT NULL, share VARCHAR NOT NULL, whole_pence BIGINT, adjusts VARCHAR NOT NULL)"
    )


def _priced_sums(wh: Warehouse) -> None:
    # Every priced period keeps its sums (per day, provider, outcome, kind and reference: all that later periods'
    # limits, the year to date and the payees read of it), and its lines only when a statement reads them (the
    # period asked for, and approved periods that adjustments re-price): at national scale an earlier period's lines
    # are millions of rows that nothing reads back. What migration 10 stored is forgotten: it is only a store of
    # work done, priced again when next needed.
    wh.execute("DELETE FROM priced_lines")
    wh.execute("DROP TABLE priced_periods")
    wh.execute(
        "CREATE TABLE priced_periods (contract_area VARCHAR NOT NULL, contract_version DATE NOT NULL,"
        " contract_sha256 VARCHAR NOT NULL, data_sha256 VARCHAR NOT NULL, program_version VARCHAR NOT NULL,"
        " as_of DATE NOT NULL, period_label VARCHAR NOT NULL, line_count BIGINT NOT NULL, total_pence BIGINT NOT NULL,"
        " sum_count BIGINT NOT NULL, lines_kept BOOLEAN NOT NULL, unpriced VARCHAR NOT NULL,"
        " priced_at TIMESTAMP NOT NULL, PRIMARY KEY (contract_sha256, data_sha256, program_version, period_label))"
    )
    wh.execute(
        "CREATE TABLE priced_sums (contract_sha256 VARCHAR NOT NULL, data_sha256 VARCHAR NOT NULL,"
        " program_version VARCHAR NOT NULL, period_label VARCHAR NOT NULL, sum_no BIGINT NOT NULL,"
        " payable_on DATE NOT NULL, provider_id VARCHAR NOT NULL, outcome_id VARCHAR, kind VARCHAR NOT NULL,"
        " reference VARCHAR NOT NULL, amount_pence BIGINT NOT NULL)"
    )


def _row_digests(wh: Warehouse) -> None:
    """Every input table keeps its rows' MD5 parts (`row_digests`), worked out here for the rows already stored."""
    for name in DIGESTED_TABLES:
        for column in DIGEST_COLUMNS:
            wh.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}" BIGINT')
        fill_digests(wh, name)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical tables, loads, load files and quarantine", _initial),
    Migration(2, "complexity groups computed from assessments by a contract", _complexity_groups),
    Migration(3, "outcome ledger: one row per contract, as-of date, outcome, client and episode", _outcome_ledger),
    Migration(4, "approved statements and their lines, never rewritten", _statements),
    Migration(5, "outcome ledger stored one row per episode per run, shown per outcome by a view", _outcome_runs),
    Migration(6, "how each file was read and its warnings; the client, episode and provider of each quarantine "
              "entry", _load_notes_and_owners),
    Migration(7, "the folders statement sets were written to, for approve to write them again", _statement_sets),
    Migration(8, "audit samples, their lines and the auditors' findings", _audit),
    Migration(9, "the web app's users and its hash-chained audit log", _web),
    Migration(10, "each statement period's priced lines, kept for the same contract, data and program",
              _priced_periods),
    Migration(11, "each priced period's sums, and its lines only when a statement reads them", _priced_sums),
    Migration(12, "each input row's MD5 parts, kept for the data digest", _row_digests),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def current_version(wh: Warehouse) -> int:
    """The schema version the warehouse is at (0 for a new, empty file)."""
    if not wh.has_table("schema_version"):
        return 0
    rows = wh.execute("SELECT max(version) FROM schema_version")
    return int(rows[0][0] or 0)


def check_version(wh: Warehouse) -> int:
    """Refuse a warehouse this program cannot read; return its version."""
    version = current_version(wh)
    if version > SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse {wh.name} is at schema version {version}, newer than this program's {SCHEMA_VERSION}",
            hint="upgrade recoverypbr (pip install -U recoverypbr) before using this warehouse",
        )
    if version < SCHEMA_VERSION:
        raise WarehouseError(
            f"the warehouse {wh.name} is at schema version {version}; this program needs {SCHEMA_VERSION}",
            hint="open it once for writing (for example with recoverypbr load) to migrate it",
        )
    return version


def migrate(wh: Warehouse, *, now: datetime | None = None) -> list[int]:
    """Apply every pending migration, each in its own transaction; return the versions applied."""
    version = current_version(wh)
    if version > SCHEMA_VERSION:
        check_version(wh)
    applied = []
    for migration in MIGRATIONS:
        if migration.version <= version:
            continue
        with wh.transaction():
            if migration.version == 1:
                wh.execute(
                    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description VARCHAR NOT NULL,"
                    " applied_at TIMESTAMP NOT NULL)"
                )
            migration.apply(wh)
            stamp = (now or datetime.now(UTC)).replace(tzinfo=None)
            wh.execute(
                "INSERT INTO schema_version VALUES (?, ?, ?)",
                [migration.version, migration.description, stamp],
            )
        applied.append(migration.version)
    return applied
