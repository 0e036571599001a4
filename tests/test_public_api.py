"""The public API is what `recoverypbr.__all__` says, and nothing is exported by accident."""

from __future__ import annotations

import recoverypbr


def test_all_matches_the_exported_names() -> None:
    public = {name for name in vars(recoverypbr) if not name.startswith("_") and name not in {
        "annotations", "data", "errors", "warehouse", "synth", "cli", "contract", "assessment", "outcomes", "payments",
        "reports", "modelling", "assurance", "web"}}
    assert set(recoverypbr.__all__) - {"__version__"} == public
    for name in recoverypbr.__all__:
        assert hasattr(recoverypbr, name)
