"""Health and wellbeing: ceased injecting, improved housing, Hepatitis B course, normative quality of life."""

from __future__ import annotations

from recoverypbr.contract.outcomes import CeasedInjecting, HepatitisBCourse, ImprovedHousing, QualityOfLife
from recoverypbr.outcomes.frame import Decision, TopTest, event_outcome, top_test
from recoverypbr.outcomes.inputs import Inputs


def ceased_injecting(inputs: Inputs, outcome: CeasedInjecting) -> TopTest:
    """Ceased injecting: "injected at the start TOP, zero injecting days at a review or exit TOP".

    Eligible: a start TOP with at least one injecting day; others (no start TOP, never injected) not eligible."""
    return top_test(
        outcome.stages,
        achieved_when=lambda f: f.injecting_days == 0,
        eligible_when=lambda s: s.s_injecting_days > 0,
    )


def improved_housing(inputs: Inputs, outcome: ImprovedHousing) -> TopTest:
    """Improved housing: "acute housing problem at start, none at a review or exit TOP".

    Eligible: a start TOP recording an acute housing problem (Y); a missing answer later is not "none"."""
    return top_test(
        outcome.stages,
        achieved_when=lambda f: ~f.acute_housing_problem,
        eligible_when=lambda s: s.s_acute_housing_problem,
    )


def hepatitis_b_course(inputs: Inputs, outcome: HepatitisBCourse) -> Decision:
    """Hepatitis B course taken (3 injections): "the third dose, or 'course completed', recorded".

    Achieved on the first such event belonging to the episode (dated on or after its start)."""
    return event_outcome(inputs, outcome.event_types)


def quality_of_life(inputs: Inputs, outcome: QualityOfLife) -> TopTest:
    """Client achieves a normative quality of life: "the TOP quality-of-life (0-20) rating reaches the contract's
    normative threshold" (at least `threshold`) at a review or exit TOP. Every episode is eligible."""
    return top_test(outcome.stages, achieved_when=lambda f: f.quality_of_life >= outcome.threshold)
