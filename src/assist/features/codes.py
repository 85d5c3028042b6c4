"""Code lists used by the source tables: one place for every categorical value.

The district layout follows the seeds' X district (13 streets/towns, ~300 residents'
committees); street names here are fictional.
"""

from __future__ import annotations

from assist.features.bilingual import Label

STREETS: dict[str, str] = {
    "S01": "东湖街道",
    "S02": "西林街道",
    "S03": "南苑街道",
    "S04": "北河街道",
    "S05": "新桥街道",
    "S06": "长乐街道",
    "S07": "梅园街道",
    "S08": "枫林街道",
    "S09": "临江街道",
    "S10": "华泾街道",
    "S11": "古美镇",
    "S12": "龙华镇",
    "S13": "七宝镇",
}
#: residents' committees per street (sums to 304, "300+" in the seeds' district)
COMMUNITIES_PER_STREET: dict[str, int] = {
    "S01": 26, "S02": 24, "S03": 22, "S04": 25, "S05": 21, "S06": 23, "S07": 20,
    "S08": 27, "S09": 19, "S10": 22, "S11": 26, "S12": 25, "S13": 24,
}


def community_codes() -> list[str]:
    """All community codes, ``S01C001`` style, street by street."""
    return [f"{s}C{i:03d}" for s, n in COMMUNITIES_PER_STREET.items() for i in range(1, n + 1)]


REGISTRATION_TYPES = ("local", "non_local", "mixed")
ADDRESS_CLASSES = ("commodity", "old_public", "old_lane", "public_rental", "resettlement", "other")
SEXES = ("F", "M")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "sibling", "other")
HUKOU = ("local", "non_local")
EDUCATION_LEVELS = ("none", "primary", "junior", "senior", "vocational", "college", "postgraduate")
TENURES = ("owned", "public_rental", "private_rental", "employer", "relative", "other")
HOUSING_CONDITIONS = ("good", "old", "shared_facilities", "dilapidated")
DISABILITY_TYPES = ("physical", "visual", "hearing", "speech", "intellectual", "mental", "multiple")
SCHOOL_LEVELS = ("kindergarten", "primary", "junior", "senior", "vocational")
APPEAL_CATEGORIES = ("hardship", "housing", "medical", "employment", "utilities", "other")
VERIFICATION_TRIGGERS = ("application", "referral", "routine_review")
VERIFICATION_OUTCOMES = ("confirmed", "not_in_need", "unreachable", "declined")
DIAGNOSIS_GROUPS = (
    "cancer", "cardiovascular", "diabetes", "respiratory", "renal", "mental", "injury",
    "maternity", "other",
)
PROGRAMMES: dict[str, str] = {
    "dibao": "最低生活保障",
    "low_income": "低收入家庭",
    "tekun": "特困人员供养",
    "expenditure": "支出型贫困生活救助",
    "medical": "医疗救助",
    "education": "教育救助",
    "employment": "就业援助",
    "housing": "住房救助",
    "temporary": "临时救助",
    "charity": "慈善帮扶",
}
#: distress causes (致困原因) -> their names
CAUSES: dict[str, Label] = {
    "illness": Label(zh="因病", en="illness"),
    "disability": Label(zh="因残", en="disability"),
    "unemployment": Label(zh="失业", en="unemployment"),
    "education": Label(zh="因学", en="schooling cost"),
    "housing": Label(zh="住房困难", en="housing"),
    "expenditure": Label(zh="支出型", en="unavoidable expenditure"),
    "lack_of_care": Label(zh="缺乏照料", en="lack of care"),
    "income_loss": Label(zh="收入骤减", en="income loss"),
}


def cause_label(code: str) -> Label:
    """A distress cause's names; an unknown code names itself."""
    return CAUSES.get(code) or Label.same(code)
#: the department behind each source table, as a household reads it in its notice (PIPL
#: art. 24: which departments' data were used); keys are the table names of
#: :data:`assist.features.schemas.TABLES`
DEPARTMENTS: dict[str, Label] = {
    "households": Label("民政部门（家庭户籍）", "Civil affairs (household registry)"),
    "persons": Label("公安部门（户籍人口）", "Public security (population registry)"),
    "income": Label("居民经济状况核对中心（收入与财产）",
                    "Economic-status check centre (income and assets)"),
    "medical_claims": Label("医疗保障局（医保报销）", "Medical insurance bureau (claims)"),
    "disability": Label("残疾人联合会（残疾证）", "Disabled persons' federation (certificates)"),
    "employment": Label("人力资源和社会保障局（就业与社保）",
                        "Human resources and social security bureau (employment)"),
    "school_enrolment": Label("教育局（入学）", "Education bureau (school enrolment)"),
    "housing": Label("房屋管理局（住房）", "Housing administration bureau (housing)"),
    "water_readings": Label("供水企业（水管家智能水表）", "Water utility (smart water meters)"),
    "hotline_appeals": Label("12345市民服务热线（诉求）", "12345 citizen service hotline (appeals)"),
    "assistance": Label("民政局（已获救助）", "Civil affairs bureau (assistance granted)"),
    "verifications": Label("街道民政科（走访核实）", "Street civil-affairs office (visit checks)"),
}
