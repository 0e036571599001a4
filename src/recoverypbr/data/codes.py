"""Code lists of the canonical tables (docs/data.md) and the older values mapped onto them."""

from __future__ import annotations

SUBSTANCES = ("opiates", "crack", "cocaine", "amphetamines", "cannabis", "alcohol", "other")

DISCHARGE_REASONS = (
    "completed_drug_free",
    "completed_occasional_user",
    "transferred_community",
    "transferred_custody",
    "retained_in_custody",
    "dropped_out",
    "treatment_withdrawn",
    "declined",
    "moved_away",
    "died",
    "other",
    "not_known",
)

#: The successful completions ("completed drug-free, or completed occasional user").
COMPLETION_REASONS = ("completed_drug_free", "completed_occasional_user")

#: NDTMS discharge codes 1-13 as they appear in older extracts.
OLD_DISCHARGE_CODES = {
    "1": "completed_drug_free",
    "2": "completed_occasional_user",
    "3": "treatment_withdrawn",  # treatment withdrawn / breach
    "4": "other",  # no appropriate treatment available
    "5": "transferred_community",  # referred on
    "6": "dropped_out",
    "7": "moved_away",
    "8": "transferred_custody",  # prison
    "9": "died",
    "10": "other",
    "11": "not_known",
    "12": "declined",
    "13": "other",  # inappropriate referral
}

TOP_STAGES = ("start", "review", "exit", "post_exit")
TOP_STAGE_ALIASES = {"s": "start", "r": "review", "e": "exit", "p": "post_exit", "post-exit": "post_exit"}

INJECTING_STATUSES = ("current", "previous", "never", "declined")
INJECTING_ALIASES = {"c": "current", "p": "previous", "n": "never", "z": "declined"}

HOUSING_NEEDS = ("none", "at_risk", "acute")
HOUSING_ALIASES = {"at risk": "at_risk", "at-risk": "at_risk"}

SEXES = ("male", "female", "other", "not_known")
SEX_ALIASES = {
    "m": "male",
    "f": "female",
    "o": "other",
    "u": "not_known",
    "x": "not_known",
    "unknown": "not_known",
}

PROVIDER_ROLES = ("prime", "subcontractor", "lasars")
STOCK_OR_FLOW = ("stock", "flow")
PRESENTATION_SETTINGS = ("treatment", "criminal_justice")
PRESENTATION_ALIASES = {"cj": "criminal_justice", "criminal justice": "criminal_justice"}

#: Event types named by the data spec; contracts may name local ones too, so this list is not enforced.
KNOWN_EVENT_TYPES = (
    "hepb_dose_1",
    "hepb_dose_2",
    "hepb_dose_3",
    "hepb_course_completed",
    "recovery_plan_agreed",
    "first_session_attended",
    "goals_achieved",
    "skill_demonstrated",
)

TRUE_WORDS = ("y", "yes", "1", "true", "t")
FALSE_WORDS = ("n", "no", "0", "false", "f")
