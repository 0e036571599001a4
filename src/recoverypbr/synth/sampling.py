"""Vectorised draws shared by the generator: categories, balanced allocation, capped waits, day counts.

A frame is a plain dict of equal-length NumPy arrays (one per field); helpers here take and join them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

Frame = dict[str, np.ndarray]
#: Day number standing for "no date" in int32 day arrays.
NO_DATE = np.iinfo(np.int32).min


def take(frame: Frame, index: np.ndarray) -> Frame:
    """The rows of `frame` at `index` (a boolean mask or positions)."""
    return {name: values[index] for name, values in frame.items()}


def concat(frames: Sequence[Frame]) -> Frame:
    """Frames with the same fields, one after another."""
    return {name: np.concatenate([f[name] for f in frames]) for name in frames[0]}


def rows(frame: Frame) -> int:
    return len(next(iter(frame.values()))) if frame else 0


def choose(rng: np.random.Generator, probs: Sequence[float], n: int) -> np.ndarray:
    """`n` independent draws of category indexes with probabilities `probs`."""
    cum = np.cumsum(np.asarray(probs, dtype=float))
    drawn: np.ndarray = np.searchsorted(cum / cum[-1], rng.random(n), side="right")
    return np.asarray(np.minimum(drawn, len(cum) - 1))


def choose_by_row(rng: np.random.Generator, table: np.ndarray, which: np.ndarray,
                  uniforms: np.ndarray | None = None) -> np.ndarray:
    """One draw per row from the probability row `table[which[i]]` (optionally from given uniforms)."""
    cum = np.cumsum(table, axis=1)
    cum = cum / cum[:, -1:]
    u = rng.random(len(which)) if uniforms is None else uniforms
    return np.asarray((u[:, None] >= cum[which][:, :-1]).sum(axis=1))


def allocate(rng: np.random.Generator, strata: np.ndarray, table: np.ndarray, which: np.ndarray,
             order: np.ndarray | None = None) -> np.ndarray:
    """Categories for rows with probabilities `table[which]`, balanced within each stratum.

    Systematic sampling: within a stratum the rows, sorted by `order` (random when None), are spread over
    the cumulative probabilities from one random offset, so every category gets its share of the stratum
    to within one row rather than only on average. Rows of a stratum must share one probability row.
    """
    n = len(strata)
    key = rng.random(n) if order is None else order
    sort = np.lexsort((key, strata))
    sorted_strata = strata[sort]
    starts = np.flatnonzero(np.r_[True, sorted_strata[1:] != sorted_strata[:-1]]) if n else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, n])
    group = np.repeat(np.arange(len(starts)), sizes)
    rank = np.arange(n) - starts[group]
    u = (rank + rng.random(len(starts))[group]) / sizes[group]
    out = np.empty(n, dtype=np.int64)
    out[sort] = choose_by_row(rng, table, which[sort], uniforms=u)
    return out


def capped_wait(rng: np.random.Generator, daily: float, cap: int, n: int) -> np.ndarray:
    """Days until something with `daily` probability per day happens (0 = same day), at most `cap`."""
    waits: np.ndarray = rng.geometric(daily, n) - 1
    return np.asarray(np.minimum(waits, cap))


def truncated_exponential(rng: np.random.Generator, mean: np.ndarray, upper: float) -> np.ndarray:
    """Whole days from 1 to `upper`, exponential with `mean` before truncation."""
    u = rng.random(len(mean))
    days = -mean * np.log1p(-u * (1.0 - np.exp(-upper / mean)))
    return np.asarray(np.clip(np.ceil(days), 1, upper).astype(np.int64))


def uniform_days(rng: np.random.Generator, low: np.ndarray | int, high: np.ndarray | int, n: int) -> np.ndarray:
    """Whole numbers from `low` to `high` inclusive (per row when arrays)."""
    low_a = np.broadcast_to(np.asarray(low, dtype=np.int64), (n,))
    high_a = np.broadcast_to(np.asarray(high, dtype=np.int64), (n,))
    return low_a + np.floor(rng.random(n) * (high_a - low_a + 1)).astype(np.int64)


def days_between(rng: np.random.Generator, cdf: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Day counts from the distribution with cumulative `cdf` (index = days), restricted to [low, high]."""
    below = np.where(low > 0, cdf[np.maximum(low - 1, 0)], 0.0)
    top = cdf[high]
    u = below + (1.0 - rng.random(len(low))) * (top - below)
    drawn: np.ndarray = np.searchsorted(cdf, u, side="left")
    return np.asarray(np.clip(drawn, low, high))


def fiscal_year(days: np.ndarray) -> np.ndarray:
    """Financial year (April to March) of day numbers, as the calendar year it starts in."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return 1970 + (months - 3) // 12


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01 of a date."""
    return (date - dt.date(1970, 1, 1)).days
