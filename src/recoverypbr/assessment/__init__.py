"""LASARS: complexity grouping of episodes from assessments, by a contract's rules."""

from __future__ import annotations

from recoverypbr.assessment.grouping import (
    NO_ASSESSMENT,
    AssessResult,
    assess,
    complexity_groups,
    latest_assessment,
    warehouse_groups,
    write_disagreements,
)

__all__ = [
    "NO_ASSESSMENT",
    "AssessResult",
    "assess",
    "complexity_groups",
    "latest_assessment",
    "warehouse_groups",
    "write_disagreements",
]
