"""Every outcome type a contract can name has all it needs, so adding one is a checkable list (docs/outcomes.md,
"How to add an outcome type"): a contract model in `OUTCOME_TYPES`, a rule in the engine's `RULES` (or, for the
cohort measure, its own evaluation), words for `contract explain` that are not the fallback title, words for
`recoverypbr explain` for the statuses its rule gives and the fields of its evidence rows that decide it, and a
folder of golden cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from recoverypbr.contract.explain import describe_outcome
from recoverypbr.contract.outcomes import OUTCOME_TYPES, OffendingCohortReduction, type_name
from recoverypbr.outcomes.cases import load_case
from recoverypbr.outcomes.engine import RULES
from recoverypbr.outcomes.explain import DECISIVE, FIELDS, WHY
from recoverypbr.outcomes.frame import ACHIEVED, NOT_ACHIEVED

CASES = Path(__file__).parents[1] / "cases"
TYPES = [type_name(c) for c in OUTCOME_TYPES]
#: Types decided for a cohort rather than per episode: no ledger row, so no rule in RULES and no WHY.
COHORT_TYPES = {type_name(OffendingCohortReduction)}


@pytest.mark.parametrize("kind", TYPES)
def test_every_outcome_type_has_its_rule_words_and_golden_cases(kind: str) -> None:
    files = sorted((CASES / kind).glob("*.yaml"))
    assert files, f"tests/cases/{kind}/ has no golden case"
    if kind not in COHORT_TYPES:
        assert kind in RULES, f"no rule for {kind} in outcomes/engine.py RULES"
        assert {ACHIEVED, NOT_ACHIEVED} <= set(WHY.get(kind, {})), f"no explain words for {kind} in WHY"
        decisive = DECISIVE.get(kind, {})
        assert decisive and all(decisive.values()), f"no decisive fields for {kind} in outcomes/explain.py DECISIVE"
        assert {f for fields in decisive.values() for f in fields} <= set(FIELDS), f"a field of {kind} has no words"
    cases = [load_case(f) for f in files]
    named = [(c.contract, o) for c in cases for o in c.contract.outcomes.values() if o.type == kind]
    assert named, f"no golden case of tests/cases/{kind}/ names a {kind} outcome"
    contract, outcome = named[0]
    described = describe_outcome(contract, outcome)
    assert described and described != outcome.title, f"contract/explain.py does not describe {kind}"


def test_the_engine_and_the_words_name_no_unknown_type() -> None:
    assert set(RULES) <= set(TYPES) and set(WHY) <= set(TYPES) and set(DECISIVE) <= set(TYPES)
    assert set(RULES) | COHORT_TYPES == set(TYPES)
