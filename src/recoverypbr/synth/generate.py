"""`generate_area`: a calibrated synthetic area written as canonical tables, in chunks of clients."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recoverypbr.contract.model import Contract
from recoverypbr.errors import DataError
from recoverypbr.synth import area, peers
from recoverypbr.synth import dirty as dirty_mode
from recoverypbr.synth import params as p
from recoverypbr.synth import tables as t
from recoverypbr.synth.chunk import IdCounters, generate_chunk
from recoverypbr.synth.gaming import Gamer, check_gaming, parse_gaming
from recoverypbr.synth.shape import AreaShape, shape_for
from recoverypbr.synth.write import XLSX_MAX_ROWS, AreaWriter, open_writer

Format = Literal["csv", "parquet", "xlsx"]
#: Streams outside the client chunks (the chunk number part of their seed).
_AREA_STREAM, _DIRTY_STREAM, _SHAPE_STREAM, _PEER_STREAM, _GAMING_STREAM = (
    1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000)
#: Tables a chunk returns apart and that are appended to the named table when written.
_APPENDED = {"referral_episodes": "episodes", "referral_assessments": "assessments"}
#: The TOP and events tables have about 3.6 rows per client; 3 is a safe floor for refusing early. A table
#: that still grows too large is refused by the workbook writer before anything is written.
_XLSX_ROWS_PER_CLIENT = 3


@dataclass(frozen=True)
class SynthSummary:
    """What `generate_area` wrote."""

    clients: int
    rows: dict[str, int]
    files: list[Path]
    dirty_rows: int
    seed: int
    fmt: str
    #: Treatment providers with `providers` (None: the usual prime and subcontractor).
    providers: int | None = None
    #: What gaming injected: {kind: {what: rows}}, empty for an honest area.
    gamed: dict[str, dict[str, int]] = field(default_factory=dict)


def generate_area(clients: int, seed: int, out: Path, fmt: Format = "parquet", dirty: bool = False,
                  progress: Callable[[int, int], None] | None = None,
                  contract: Contract | None = None, providers: int | None = None,
                  gaming: str | Mapping[str, float] | None = None,
                  gaming_provider: str | None = None) -> SynthSummary:
    """Write a synthetic area of `clients` clients into the folder `out`, one file (or sheet) per table.

    The same arguments always give byte-identical files. With `dirty`, about 1-2% of each table's rows
    carry realistic errors (and some valid old forms), counted in `dirty_rows`. With `contract`, the area is
    shaped for it (`synth.shape`): its providers, service lines, assessors, local events and offending cohorts.
    With `providers` (2 or more), the clients are shared equally between exchangeable peer providers
    (`synth.peers`). With `gaming` (`KIND=STRENGTH,...`) the `gaming_provider` games from go-live in known
    ways (`synth.gaming`); everything else is as the honest area with the same seed.
    Every argument is checked before anything is written.
    """
    _check(clients, seed, fmt)
    kinds = parse_gaming(gaming)
    if contract is not None and (providers is not None or kinds or gaming_provider is not None):
        raise DataError("--providers and --gaming make their own area and cannot be shaped for a contract",
                        hint="give either --contract, or --providers (and --gaming), not both")
    if providers is not None:
        peers.check_providers(providers)
    known = (peers.provider_ids(providers) if providers is not None
             else [x.provider_id for x in area.TREATMENT_PROVIDERS])
    check_gaming(kinds, gaming_provider, known)
    gamer = Gamer(gaming_provider, kinds, seed, _GAMING_STREAM) if gaming_provider is not None else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    schemas = {name: t.schema(name, dirty_mode.text_columns(name) if dirty else ()) for name in t.TABLE_NAMES}
    writer = open_writer(out, fmt, schemas)
    state = _State(seed, dirty, writer, shape_for(contract) if contract is not None else None)
    try:
        state.emit("providers", area.providers() if providers is None else peers.providers_table(providers))
        state.emit("offending_cohort", area.offending_cohort(np.random.default_rng([seed, _AREA_STREAM]), clients))
        used = IdCounters()
        for chunk, first in enumerate(range(0, clients, p.CHUNK_CLIENTS)):
            size = min(p.CHUNK_CLIENTS, clients - first)
            tables = state.shaped(generate_chunk(seed, chunk, first, size, used), chunk)
            if providers is not None:
                tables = peers.share_out(tables, seed, _PEER_STREAM, chunk, first, size, providers)
            if gamer is not None:
                tables = gamer.apply(tables, chunk)
            for name, table in tables.items():
                state.emit(name, table, chunk)
            if progress is not None:
                progress(first + size, clients)
        files = writer.close()
    except BaseException:
        writer.abort()
        raise
    return SynthSummary(clients, state.rows, files, state.dirty_rows, seed, fmt, providers,
                        gamer.counts if gamer is not None else {})


class _State:
    """Running totals while tables are written, and the dirty step when asked for."""

    def __init__(self, seed: int, dirty: bool, writer: AreaWriter, shape: AreaShape | None = None) -> None:
        self.seed, self.dirty, self.writer, self.shape = seed, dirty, writer, shape
        self.rows = dict.fromkeys(t.TABLE_NAMES, 0)
        self.dirty_rows = 0
        #: Rows of a chunk's table before the appended referrals (spoilt from their own stream in dirty mode).
        self.base_rows: dict[str, int] = {}

    def shaped(self, tables: dict[str, pa.Table], chunk: int) -> dict[str, pa.Table]:
        """A chunk's tables shaped for the contract, with its local events (as they are without a contract), and
        its referrals that never started appended to the episodes and assessments (shaped from their own
        stream, so the other rows are shaped as they were before referrals were generated)."""
        apart = {name: tables[name] for name in _APPENDED}
        found = {name: table for name, table in tables.items() if name not in _APPENDED}
        if self.shape is not None:
            rng = np.random.default_rng([self.seed, _SHAPE_STREAM, chunk + 1])
            found = {name: self.shape.apply(name, table, rng) for name, table in found.items()}
            extra = self.shape.local_event_rows(found["episodes"], rng)
            if extra.num_rows:
                events = pa.concat_tables([found["events"], extra])
                order = pc.sort_indices(events, [("client_id", "ascending"), ("event_date", "ascending"),
                                                 ("event_type", "ascending")])
                found["events"] = events.take(order)
            rng = np.random.default_rng([self.seed, _SHAPE_STREAM, chunk + 1, 1])
            apart = {name: self.shape.apply(_APPENDED[name], table, rng) for name, table in apart.items()}
        self.base_rows = {}
        for name, table in apart.items():
            self.base_rows[_APPENDED[name]] = found[_APPENDED[name]].num_rows
            found[_APPENDED[name]] = pa.concat_tables([found[_APPENDED[name]], table])
        return found

    def emit(self, name: str, table: pa.Table, chunk: int = -1) -> None:
        if self.shape is not None and chunk < 0:
            table = self.shape.apply(name, table, np.random.default_rng([self.seed, _SHAPE_STREAM, 0]))
        if self.dirty:
            base = self.base_rows.get(name, table.num_rows) if chunk >= 0 else table.num_rows
            stream = [self.seed, _DIRTY_STREAM, chunk + 1, t.TABLE_NAMES.index(name)]
            first, count = dirty_mode.inject(np.random.default_rng(stream), name, table.slice(0, base))
            if base < table.num_rows:  # the appended rows: their own stream, so the rows before stay as they were
                rest, more = dirty_mode.inject(np.random.default_rng([*stream, 1]), name, table.slice(base))
                first, count = pa.concat_tables([first, rest]), count + more
            table = first
            self.dirty_rows += count
        self.writer.write(name, table)
        self.rows[name] += table.num_rows


def _check(clients: int, seed: int, fmt: str) -> None:
    if not isinstance(clients, int) or isinstance(clients, bool) or clients < 1:
        raise DataError(f"clients must be a whole number of at least 1, not {clients!r}",
                        hint="ask for 1 or more clients, e.g. 20000")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise DataError(f"seed must be a whole number of 0 or more, not {seed!r}", hint="use e.g. seed 1")
    if fmt not in get_args(Format):
        raise DataError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(get_args(Format))}")
    if fmt == "xlsx" and clients * _XLSX_ROWS_PER_CLIENT > XLSX_MAX_ROWS:
        raise DataError(
            f"{clients:,} clients need more than the {XLSX_MAX_ROWS:,} data rows an XLSX sheet holds",
            hint=f"generate at most about {XLSX_MAX_ROWS // 4:,} clients for XLSX, or write csv or parquet",
        )
