"""Calibrated synthetic areas: believable client-level extracts in the canonical tables.

`generate_area` writes one; `CALIBRATION` lists the published figures it reproduces (see
docs/synthetic-data.md). Importing this package loads no NumPy or Arrow; `generate_area` does on first call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recoverypbr.synth.params import CALIBRATION

if TYPE_CHECKING:
    from recoverypbr.synth.generate import SynthSummary, generate_area

__all__ = ["CALIBRATION", "SynthSummary", "generate_area"]


def __getattr__(name: str) -> Any:
    if name in ("generate_area", "SynthSummary"):
        from recoverypbr.synth import generate

        return getattr(generate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
