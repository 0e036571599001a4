"""The statistics every indicator flags with: funnel-plot control limits, CUSUM drift, bunching at an edge.

Funnel plots (Spiegelhalter, "Funnel plots for comparing institutional performance", 2005): a provider's rate
is plotted against its number of cases, with control limits around the expected rate that narrow as cases grow.
Here the expected rate is its **peers'** (every other provider pooled, in the same period), so one provider's
gaming cannot move its own target, and the limits allow for the peers' own sampling error:

    z = (p - p0) / sqrt(p0 (1 - p0) (1/n + 1/m))

for a provider's rate p on n cases and the peers' rate p0 on m cases; the 95% limits are p0 +/- 1.96 s and the
99.8% limits p0 +/- 3.09 s, with s the square root above. A mean (a score, days) uses its pooled standard
deviation in place of sqrt(p0 (1 - p0)). An indicator is **flagged** only beyond its 99.8% limit in the direction
gaming would push it (about 1 in 1,000 by chance); beyond 95% is a **warning**.

CUSUM (Page, 1954) accumulates the quarterly z in the gaming direction: S_t = max(0, S_{t-1} + z_t - k), with
reference value k = 0.5 and decision limit h; it signals drift that no single quarter shows.

Bunching: events just after an edge (a quarter's start, an outcome's qualifying point) against just before it.
Without timing the two counts are about equal (a smooth density; the band widths are equal), so the share after
is a binomial proportion with expectation 1/2, compared with the peers' share the same way as a rate.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats as _stats

#: Two-sided funnel limits: z for 95% and 99.8% (Spiegelhalter's 2 and 3 standard deviations).
Z95 = float(_stats.norm.ppf(0.975))
Z998 = float(_stats.norm.ppf(0.999))
#: CUSUM reference value and decision limit (in standard deviations of the quarterly z).
CUSUM_K = 0.5
CUSUM_H = 5.0
#: Fewest cases for a rate to be judged: smaller counts are shown but never flagged.
MIN_CASES = 10


@dataclass(frozen=True)
class Judged:
    """A value judged against its expectation: z, the 95% and 99.8% limits, the level and the two-sided p."""

    z: float | None
    limits: dict[str, list[float]]
    level: str  # "alarm", "warning", "in_control", "too_few", "no_peers"
    p_value: float | None


def judge(value: float | None, expected: float | None, spread: float | None, direction: str, n: int,
          *, bounds: tuple[float, float] | None = (0.0, 1.0)) -> Judged:
    """Judge `value` against `expected` with standard error `spread`; `direction` is "high" or "low" (the side
    gaming pushes). Limits are clipped to `bounds` (a rate's 0 to 1) when given."""
    if value is None or n < MIN_CASES:
        return Judged(None, {}, "too_few", None)
    if expected is None or spread is None:
        return Judged(None, {}, "no_peers", None)
    limits = {}
    for name, z in (("95", Z95), ("99.8", Z998)):
        low, high = expected - z * spread, expected + z * spread
        if bounds is not None:
            low, high = max(bounds[0], low), min(bounds[1], high)
        limits[name] = [low, high]
    if spread <= 0:
        same = math.isclose(value, expected, abs_tol=1e-12)
        z_value = 0.0 if same else math.copysign(math.inf, value - expected)
    else:
        z_value = (value - expected) / spread
    signed = z_value if direction == "high" else -z_value
    level = "alarm" if signed > Z998 else "warning" if signed > Z95 else "in_control"
    p_value = float(2 * _stats.norm.sf(abs(z_value))) if math.isfinite(z_value) else 0.0
    return Judged(z_value, limits, level, p_value)


def rate_spread(p0: float, n: int, m: int) -> float | None:
    """Standard error of a provider's rate on `n` cases against its peers' rate `p0` on `m` cases."""
    if n <= 0 or m <= 0:
        return None
    return math.sqrt(max(p0 * (1 - p0), 0.0) * (1 / n + 1 / m))


def mean_spread(sd: float, n: int, m: int) -> float | None:
    """Standard error of a provider's mean on `n` cases against its peers' mean on `m` cases (pooled `sd`)."""
    if n <= 0 or m <= 0:
        return None
    return sd * math.sqrt(1 / n + 1 / m)


def cusum(z: Sequence[float | None], direction: str, k: float = CUSUM_K) -> list[float]:
    """The one-sided CUSUM path of quarterly z values in the gaming direction (a quarter without z adds nothing)."""
    path, s = [], 0.0
    for value in z:
        if value is not None and math.isfinite(value):
            s = max(0.0, s + (value if direction == "high" else -value) - k)
        path.append(s)
    return path


def share_after(after: int, before: int) -> float | None:
    """The share of events in the band just after an edge, of those in the bands either side."""
    both = after + before
    return after / both if both else None
