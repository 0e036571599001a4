"""Reading what loads kept aside, and an overview of what the warehouse holds."""

from __future__ import annotations

from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

from recoverypbr.data.codes import COMPLETION_REASONS
from recoverypbr.data.schema import TABLES
from recoverypbr.errors import DataError
from recoverypbr.reports.cells import safe_table
from recoverypbr.warehouse.connection import Warehouse

QUARANTINE_COLUMNS = (
    "provider_id",
    "load_id",
    "table_name",
    "file",
    "row_number",
    "column_name",
    "value",
    "rule",
    "reason",
    "record_key",
)


_ENTRY = ("sha256", "table_name", "row_number", "column_name", "reason")


def entry_providers(wh: Warehouse) -> ir.Table:
    """Each quarantine entry (by its key, `_ENTRY`) with each provider whose client's row it is.

    A row naming a provider (an episode, a provider) is that provider's; a row naming an episode (a TOP, an
    event) is the episode's provider's; a row naming only a client (the client, an assessment, a presentation) is
    the provider's of every episode of that client. Episodes count whether stored or themselves kept aside. A row
    naming none (a police cohort) or whose client has no episode anywhere belongs to no provider."""
    q, stored = wh.table("quarantine"), wh.table("episodes")
    kept = q.filter((q.table_name == "episodes") & q.provider_id.notnull() & q.episode_id.notnull())
    episodes = ibis.union(
        stored.select("episode_id", "client_id", "provider_id"),
        kept.select("episode_id", "client_id", "provider_id"),
        distinct=True,
    ).rename(ep_episode="episode_id", ep_client="client_id", ep_provider="provider_id")
    rest = q.filter(q.provider_id.isnull())
    by_episode = rest.filter(rest.episode_id.notnull()).join(episodes, rest.episode_id == episodes.ep_episode)
    by_client = rest.filter(rest.episode_id.isnull() & rest.client_id.notnull()).join(
        episodes, rest.client_id == episodes.ep_client
    )

    def entries(t: ir.Table, provider: ir.StringValue) -> ir.Table:
        # Stored columns are NOT NULL and joined ones are not: one type for the union.
        return t.select(**{c: t[c].cast(t[c].type().copy(nullable=True)) for c in _ENTRY}, provider=provider)

    return ibis.union(
        entries(q.filter(q.provider_id.notnull()), q.provider_id),
        entries(by_episode, by_episode.ep_provider),
        entries(by_client, by_client.ep_provider),
        distinct=True,
    ).filter(lambda t: t.provider.notnull())


def quarantine_rows(
    wh: Warehouse, *, load_id: int | None = None, table: str | None = None, provider: str | None = None
) -> ir.Table:
    """Kept-aside rows, one per broken rule, in file and row order; optionally for one load, table or provider.

    `provider_id` names the provider(s) whose clients' rows they are (`;` between several; empty for none): with
    `provider`, only that provider's rows, so a provider can be sent its own rows and no one else's."""
    q = wh.table("quarantine")
    if load_id is not None:
        q = q.filter(q.load_id == load_id)
    if table is not None:
        q = q.filter(q.table_name == table)
    owners = entry_providers(wh)
    if provider is not None:
        mine = owners.filter(owners.provider == provider)
        q = q.semi_join(mine, [q[c] == mine[c] for c in _ENTRY]).mutate(provider_id=ibis.literal(provider))
    else:
        named = owners.group_by(list(_ENTRY)).aggregate(
            __providers=owners.provider.group_concat(";", order_by=owners.provider)
        )
        q = q.left_join(named, [q[c] == named[c] for c in _ENTRY]).mutate(
            provider_id=lambda t: t.__providers.fill_null("")
        )
    return q.select(*QUARANTINE_COLUMNS).order_by(["load_id", "table_name", "file", "row_number", "column_name"])


def quarantine_by_rule(wh: Warehouse, *, load_id: int | None = None) -> list[tuple[str, str, int]]:
    """(table, rule, rows) over the quarantine."""
    q = quarantine_rows(wh, load_id=load_id)
    counts = q.group_by(["table_name", "rule"]).aggregate(rows=(q.file + "#" + q.row_number.cast("string")).nunique())
    frame = wh.to_arrow(counts.order_by(["table_name", "rule"]))
    return [(str(r["table_name"]), str(r["rule"]), int(r["rows"])) for r in frame.to_pylist()]


def check_provider(wh: Warehouse, provider: str) -> None:
    """Refuse a provider id the warehouse does not hold, naming those it does."""
    known = [str(p) for (p,) in wh.execute("SELECT provider_id FROM providers ORDER BY provider_id")]
    if provider not in known:
        raise DataError(
            f"no provider {provider!r} in the warehouse",
            hint=f"choose one of: {', '.join(known) or '(none loaded yet)'}",
        )


def export_csv(rows: ir.Table, wh: Warehouse, path: Path) -> int:
    """Write rows to a CSV file; return how many."""
    data: pa.Table = safe_table(wh.to_arrow(rows))
    try:
        pacsv.write_csv(data, path)
    except OSError as exc:
        raise DataError(f"cannot write {path}: {exc}", hint="choose a folder you can write to") from exc
    return int(data.num_rows)


def table_counts(wh: Warehouse) -> dict[str, int]:
    """Rows held per canonical table."""
    return {t.name: wh.count(wh.table(t.name)) for t in TABLES}


def latest_load_id(wh: Warehouse) -> int | None:
    rows = wh.execute("SELECT max(load_id) FROM loads")
    return None if rows[0][0] is None else int(rows[0][0])


def provider_overview(wh: Warehouse) -> list[dict[str, object]]:
    """Per provider: episodes started, still in treatment, exits, successful completions among exits, and
    referrals that never started (no `start_date`)."""
    episodes, providers = wh.table("episodes"), wh.table("providers")
    started = episodes.start_date.notnull()
    completed = started & episodes.discharge_reason.isin(COMPLETION_REASONS)
    per_provider = episodes.group_by("provider_id").aggregate(
        episodes=started.sum(),
        in_treatment=(started & episodes.discharge_date.isnull()).sum(),
        exits=(started & episodes.discharge_date.notnull()).sum(),
        completions=completed.sum(),
        not_started=(~started).sum(),
    )
    named = per_provider.left_join(providers, per_provider.provider_id == providers.provider_id)
    rows = named.select(per_provider.provider_id, providers["name"], *per_provider.columns[1:])
    overview: list[dict[str, object]] = wh.to_arrow(rows.order_by("provider_id")).to_pylist()
    return overview
