"""SSDA903 codes mapped onto the simulator's vocabulary (placement needs, exit routes, providers).

One table for the reader, the estimation and the synthetic writer, so a round trip cannot drift.
Codes follow the DfE's children-looked-after return guidance.
"""

from __future__ import annotations

# PLACE -> placement need.
PLACE_TO_NEED: dict[str, str] = {
    **{code: "kinship_fostering" for code in ("U1", "U2", "U3")},
    **{code: "fostering" for code in ("U4", "U5", "U6")},
    "K1": "secure",
    "K2": "residential",
    "R1": "residential",
    "S1": "residential",
    "H5": "supported_16plus",
    "P2": "supported_16plus",
    "P1": "placed_with_parents",
    **{code: "placed_for_adoption" for code in ("A3", "A4", "A5", "A6")},
    "R3": "parent_and_child",  # family centre or mother and baby unit
    "R5": "remand",  # young offender institution (a remand-only period is the [entries.remand] stream: remand.py)
    **{code: "other" for code in ("R2", "Z1", "T0", "T1", "T2", "T3", "T4", "P3")},
}

# PLACE_PROVIDER: PR0 parents, PR1 own provision; the rest are external to the authority.
IN_HOUSE_PROVIDERS = frozenset({"PR0", "PR1"})
PROVIDERS = frozenset({"PR0", "PR1", "PR2", "PR3", "PR4", "PR5"})

# REC (reason episode ceased) -> exit route. X1 means the period of care continues in a new episode.
CONTINUES = "X1"
REC_TO_ROUTE: dict[str, str] = {
    "E11": "adoption",
    "E12": "adoption",
    "E13": "return_home",
    "E4A": "return_home",
    "E4B": "return_home",
    **{code: "sgo_cao" for code in ("E41", "E43", "E44", "E45", "E46", "E47", "E48")},
    **{code: "other" for code in ("E14", "E15", "E16", "E17", "E2", "E3", "E5", "E6", "E7", "E8", "E9")},
}
AGE_18_YEARS = 17.99  # a period ending at or after this age counts as leaving care at 18, whatever the code

# RNE (reason for new episode): S starts a period of care; L is a change of legal status only.
START_OF_PERIOD = "S"
LEGAL_STATUS_ONLY = "L"
RNE_CODES = frozenset({"S", "L", "P", "T", "B", "U"})

# Legal statuses for short breaks (respite): not periods of care in the children-looked-after counts.
SHORT_BREAK_STATUSES = frozenset({"V3", "V4"})
LEGAL_STATUSES = frozenset({"C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4"})

CATEGORIES_OF_NEED = frozenset({f"N{i}" for i in range(1, 9)})

# REASON_PLACE_CHANGE, on the episode that ends with REC X1 before a new placement (the DfE's rule 225):
# the DfE's codes (rule 1009), split into the endings no plan chose (the carer, the child, an allegation, a
# standards concern, approval removed, the provision closing) and the rest (the care plan, the LA's request,
# a change of placement type, custody, other). Assumption: the first set is what the model calls a breakdown.
UNPLANNED_PLACEMENT_ENDINGS = frozenset({"CREQB", "CREQO", "CHILD", "ALLEG", "STAND", "APPRR", "CLOSE"})
PLACEMENT_CHANGE_REASONS = UNPLANNED_PLACEMENT_ENDINGS | {"CARPL", "LAREQ", "PLACE", "CUSTOD", "OTHER"}
SEX_CODES = {"1": "male", "2": "female"}

# Writing synthetic returns: the placement code and provider of each (need, in-house) pair.
NEED_TO_PLACE: dict[tuple[str, bool], tuple[str, str]] = {
    ("fostering", True): ("U4", "PR1"),
    ("fostering", False): ("U6", "PR4"),
    ("kinship_fostering", True): ("U1", "PR1"),
    ("kinship_fostering", False): ("U1", "PR4"),
    ("residential", True): ("K2", "PR1"),
    ("residential", False): ("K2", "PR4"),
    ("secure", True): ("K1", "PR1"),
    ("secure", False): ("K1", "PR4"),
    ("supported_16plus", True): ("H5", "PR1"),
    ("supported_16plus", False): ("H5", "PR4"),
    ("placed_with_parents", True): ("P1", "PR0"),
    ("placed_with_parents", False): ("P1", "PR0"),
    ("placed_for_adoption", True): ("A5", "PR1"),
    ("placed_for_adoption", False): ("A6", "PR2"),
    ("other", True): ("Z1", "PR1"),
    ("other", False): ("Z1", "PR4"),
    # R3 family centre or mother and baby unit, R5 young offender institution (PLACE_TO_NEED reads them back)
    ("parent_and_child", True): ("R3", "PR1"),
    ("parent_and_child", False): ("R3", "PR4"),
    ("remand", True): ("R5", "PR1"),
    ("remand", False): ("R5", "PR4"),
}
ROUTE_TO_REC: dict[str, str] = {
    "return_home": "E4A",
    "adoption": "E11",
    "sgo_cao": "E45",
    "age_18": "E8",
    "other": "E8",
}
