"""Source-table schemas, declared once.

Each department extract a district's one-stop service platform holds is described by a
:class:`TableSpec`: its columns with type, nullability, allowed values and range, which
columns identify a person (pseudonymised or dropped at ingest), the row key, and the date
that says when a record became known. Both pandera schemas — for raw extracts and for the
ingested, pseudonymised store — are generated from these specs; nothing else lists columns.

Conventions
-----------
* ``snapshot`` is the extract month ``YYYY-MM``; ``as_of_date`` is the day the department's
  data was current. It lies inside the snapshot month.
* State tables (households, persons, income, ...) hold the full state in every snapshot.
  Event tables (claims, appeals, meter readings, verifications) hold the events that became
  known in that month; their event date never lies after ``as_of_date``.
* Raw identifiers are 4–64 characters of ``[A-Za-z0-9_-]``; after ingest, household and person
  ids are keyed HMAC pseudonyms (``h``/``p`` + 20 hex) and names, ID numbers and addresses are gone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import pandera.pandas as pa

from assist.features import codes

RAW_ID_PATTERN = r"^[A-Za-z0-9_-]{4,64}$"
PSEUDONYM_PATTERN = r"^[hpm][0-9a-f]{20}$"
SNAPSHOT_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
EARLIEST_DATE = pd.Timestamp("1900-01-01")
#: the ``pii`` kinds replaced by a keyed pseudonym at ingest
PSEUDONYMISED = ("household", "person", "meter")

Kind = Literal["id", "str", "category", "int", "float", "bool", "date"]
Pii = Literal["household", "person", "meter", "drop"]


@dataclass(frozen=True)
class Col:
    """One column of a source table."""

    name: str
    kind: Kind
    description: str
    nullable: bool = False
    allowed: tuple[str, ...] | None = None
    ge: float | None = None
    le: float | None = None
    #: ``household`` / ``person`` / ``meter``: replaced by a keyed pseudonym; ``drop``: removed
    pii: Pii | None = None


@dataclass(frozen=True)
class TableSpec:
    """A department extract: columns, row key, and how its rows relate to time."""

    name: str
    description: str
    department: str
    level: Literal["household", "person"]
    kind: Literal["state", "event"]
    key: tuple[str, ...]
    columns: tuple[Col, ...]
    #: for event tables, the column holding the event date (must be <= as_of_date)
    event_date: str | None = None
    #: pairs (a, b) of numeric columns where a <= b must hold
    not_greater: tuple[tuple[str, str], ...] = field(default=())

    @property
    def column_names(self) -> list[str]:
        """Raw column names in declared order."""
        return [c.name for c in self.columns]

    @property
    def clean_column_names(self) -> list[str]:
        """Column names after ingest (dropped PII removed)."""
        return [c.name for c in self.columns if c.pii != "drop"]

    def col(self, name: str) -> Col:
        """The column called ``name``."""
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")


def _hh(desc: str = "household identifier") -> Col:
    return Col("household_id", "id", desc, pii="household")


def _person(desc: str = "person identifier") -> Col:
    return Col("person_id", "id", desc, pii="person")


_SNAP = Col("snapshot", "str", "extract month, YYYY-MM")
_ASOF = Col("as_of_date", "date", "day the department's data was current")

TABLES: dict[str, TableSpec] = {}


def _register(spec: TableSpec) -> TableSpec:
    TABLES[spec.name] = spec
    return spec


_register(TableSpec(
    name="households", department="civil affairs / household registry",
    description="Registered resident households with their jurisdiction and address class.",
    level="household", kind="state", key=("household_id", "snapshot"),
    columns=(
        _hh(), _SNAP, _ASOF,
        Col("street_code", "category", "street or town (街镇)", allowed=tuple(codes.STREETS)),
        Col("community_code", "category", "residents' committee (居委)",
            allowed=tuple(codes.community_codes())),
        Col("registration_type", "category", "household registration: local, non-local or mixed",
            allowed=codes.REGISTRATION_TYPES),
        Col("address_class", "category", "building class of the address",
            allowed=codes.ADDRESS_CLASSES),
        Col("address", "str", "street address", nullable=True, pii="drop"),
    ),
))
_register(TableSpec(
    name="persons", department="public security household registry",
    description="Members of each household with age, sex, relation to head, hukou and education.",
    level="person", kind="state", key=("person_id", "snapshot"),
    columns=(
        _person(), _hh(), _SNAP, _ASOF,
        Col("name", "str", "full name", nullable=True, pii="drop"),
        Col("id_number", "str", "national ID number", nullable=True, pii="drop"),
        Col("phone", "str", "mobile phone number", nullable=True, pii="drop"),
        Col("age", "int", "age in whole years", ge=0, le=115),
        Col("sex", "category", "F or M", allowed=codes.SEXES),
        Col("relation", "category", "relation to household head", allowed=codes.RELATIONS),
        Col("hukou", "category", "household registration of the person", allowed=codes.HUKOU),
        Col("education_level", "category", "highest education completed", nullable=True,
            allowed=codes.EDUCATION_LEVELS),
    ),
))
_register(TableSpec(
    name="income", department="civil affairs economic-status check (核对中心)",
    description="Household monthly income, financial assets and months of rent or utility arrears.",
    level="household", kind="state", key=("household_id", "snapshot"),
    columns=(
        _hh(), _SNAP, _ASOF,
        Col("monthly_income", "float", "household income this month, CNY", nullable=True, ge=0),
        Col("financial_assets", "float", "deposits and securities, CNY", nullable=True, ge=0),
        Col("arrears_months", "int", "months of unpaid rent or utilities", nullable=True,
            ge=0, le=240),
    ),
))
_register(TableSpec(
    name="medical_claims", department="medical insurance bureau",
    description="Settled medical-insurance claims with out-of-pocket cost and diagnosis flags.",
    level="person", kind="event", key=("claim_id",), event_date="service_date",
    not_greater=(("out_of_pocket", "total_cost"),),
    columns=(
        Col("claim_id", "id", "claim identifier"), _person(), _hh(), _SNAP, _ASOF,
        Col("service_date", "date", "date of treatment"),
        Col("total_cost", "float", "total cost, CNY", ge=0),
        Col("out_of_pocket", "float", "cost paid by the patient, CNY", ge=0),
        Col("inpatient", "bool", "an inpatient stay"),
        Col("inpatient_days", "int", "days in hospital", ge=0, le=366),
        Col("diagnosis_group", "category", "diagnosis group", allowed=codes.DIAGNOSIS_GROUPS),
        Col("major_illness", "bool", "major illness (大病) flag"),
        Col("chronic_condition", "bool", "registered chronic condition (门诊慢特病) flag"),
    ),
))
_register(TableSpec(
    name="disability", department="disabled persons' federation",
    description="Disability certificates with type and grade (1 most severe).",
    level="person", kind="state", key=("person_id", "snapshot"),
    columns=(
        _person(), _hh(), _SNAP, _ASOF,
        Col("certificate_no", "str", "certificate number", nullable=True, pii="drop"),
        Col("disability_type", "category", "type of disability", allowed=codes.DISABILITY_TYPES),
        Col("grade", "int", "grade 1 (most severe) to 4", ge=1, le=4),
        Col("issue_date", "date", "date the certificate was issued"),
    ),
))
_register(TableSpec(
    name="employment", department="human resources and social security bureau",
    description="Working-age members: unemployment registration, social insurance, wage.",
    level="person", kind="state", key=("person_id", "snapshot"),
    columns=(
        _person(), _hh(), _SNAP, _ASOF,
        Col("registered_unemployed", "bool", "registered as unemployed"),
        Col("unemployed_since", "date", "start of current unemployment", nullable=True),
        Col("social_insurance", "bool", "pays urban employee social insurance"),
        Col("monthly_wage", "float", "reported monthly wage, CNY", nullable=True, ge=0),
    ),
))
_register(TableSpec(
    name="school_enrolment", department="education bureau",
    description="Children aged 3-18: enrolment, school level and monthly education cost.",
    level="person", kind="state", key=("person_id", "snapshot"),
    columns=(
        _person(), _hh(), _SNAP, _ASOF,
        Col("enrolled", "bool", "enrolled in a school or kindergarten"),
        Col("school_level", "category", "level of the school", nullable=True,
            allowed=codes.SCHOOL_LEVELS),
        Col("monthly_education_cost", "float", "fees, meals, materials and tutoring, CNY",
            nullable=True, ge=0),
    ),
))
_register(TableSpec(
    name="housing", department="housing administration bureau",
    description="Dwelling of each household: tenure, floor area, condition and rent.",
    level="household", kind="state", key=("household_id", "snapshot"),
    columns=(
        _hh(), _SNAP, _ASOF,
        Col("tenure", "category", "owned, rented, employer-provided ...", allowed=codes.TENURES),
        Col("floor_area_m2", "float", "floor area of the dwelling, m²", nullable=True,
            ge=1, le=2000),
        Col("condition", "category", "condition of the dwelling",
            allowed=codes.HOUSING_CONDITIONS),
        Col("shared_kitchen", "bool", "kitchen shared with other households"),
        Col("shared_toilet", "bool", "toilet shared with other households"),
        Col("monthly_rent", "float", "rent paid per month, CNY (0 when not renting)",
            nullable=True, ge=0),
    ),
))
_register(TableSpec(
    name="water_readings", department="water utility (水管家 smart meters)",
    description="Daily smart water-meter readings for monitored elderly residents.",
    level="person", kind="event", key=("person_id", "reading_date"), event_date="reading_date",
    columns=(
        _person(), _hh(), _SNAP, _ASOF,
        Col("reading_date", "date", "day of the reading"),
        Col("litres", "float", "water used that day, litres", nullable=True, ge=0, le=20000),
        Col("meter_id", "id", "smart water meter identifier (the meter registration)",
            nullable=True, pii="meter"),
    ),
))
_register(TableSpec(
    name="hotline_appeals", department="12345 citizen service hotline",
    description="Appeals to the 12345 hotline, by category.",
    level="household", kind="event", key=("appeal_id",), event_date="appeal_date",
    columns=(
        Col("appeal_id", "id", "appeal identifier"), _hh(), _SNAP, _ASOF,
        Col("appeal_date", "date", "date of the appeal"),
        Col("category", "category", "subject of the appeal", allowed=codes.APPEAL_CATEGORIES),
    ),
))
_register(TableSpec(
    name="assistance", department="civil affairs bureau",
    description="Assistance currently granted: programme, monthly amount and dates.",
    level="household", kind="state", key=("grant_id", "snapshot"),
    columns=(
        Col("grant_id", "id", "grant identifier"), _hh(), _SNAP, _ASOF,
        Col("programme", "category", "assistance programme", allowed=tuple(codes.PROGRAMMES)),
        Col("monthly_amount", "float", "amount per month, CNY", ge=0),
        Col("start_date", "date", "first month of the grant"),
        Col("end_date", "date", "last month of the grant, if ended", nullable=True),
    ),
))
_register(TableSpec(
    name="verifications", department="street civil-affairs office (caseworkers)",
    description="Caseworker home visits after an application, a referral or a routine review.",
    level="household", kind="event", key=("verification_id",), event_date="visit_date",
    columns=(
        Col("verification_id", "id", "verification identifier"), _hh(), _SNAP, _ASOF,
        Col("visit_date", "date", "date of the home visit"),
        Col("trigger", "category", "why the household was visited",
            allowed=codes.VERIFICATION_TRIGGERS),
        Col("outcome", "category", "what the caseworker found",
            allowed=codes.VERIFICATION_OUTCOMES),
        Col("caseworker_id", "str", "staff code of the caseworker", nullable=True),
    ),
))

TABLE_ORDER: tuple[str, ...] = tuple(TABLES)


# ---------------------------------------------------------------------------------------
# pandera schemas, generated from the specs
# ---------------------------------------------------------------------------------------
_DTYPES: dict[str, object] = {
    "id": pd.StringDtype(),
    "str": pd.StringDtype(),
    "category": pd.StringDtype(),
    "int": "Int64",
    "float": "Float64",
    "bool": "boolean",
    "date": "datetime64[ns]",
}


#: rule code -> what it means, in plain words (shown in quarantine files and error messages)
RULES: dict[str, str] = {
    "bad_type": "value cannot be read as the declared type",
    "missing_value": "required value is missing",
    "malformed_id": "identifier is not 4-64 characters of letters, digits, '_' or '-'",
    "bad_snapshot": "snapshot is not a month written YYYY-MM",
    "unknown_code": "value is not one of the known codes",
    "negative_value": "amount or count is negative",
    "below_minimum": "value is below the allowed minimum",
    "above_maximum": "value is above the allowed maximum (impossible)",
    "implausible_date": "date lies before 1900",
    "as_of_outside_snapshot": "as_of_date is not inside the snapshot month",
    "future_date": "event date lies after the extract's as_of_date",
    "duplicate_key": "another row has the same key",
    "unknown_household": "household_id is not in the households table of that snapshot",
    "snapshot_mismatch": "snapshot is not the month of the extract file the row came from",
    # cross-column orderings declared in the specs (``not_greater``), one code each
    **{f"{a}_exceeds_{b}": f"{a} is greater than {b}"
       for spec in TABLES.values() for a, b in spec.not_greater},
}


def dtypes(name: str, *, clean: bool = False) -> dict[str, object]:
    """Declared pandas dtype of each column of table ``name``, raw or after ingest (``clean``)."""
    spec = TABLES[name]
    return {c.name: _DTYPES[c.kind] for c in spec.columns if not (clean and c.pii == "drop")}


def _rule(name: str, fn) -> pa.Check:  # noqa: ANN001 - vectorised predicate
    return pa.Check(fn, name=name, ignore_na=True)


def _checks(col: Col, *, clean: bool) -> list[pa.Check]:
    out: list[pa.Check] = []
    if col.kind == "id":
        pattern = PSEUDONYM_PATTERN if clean and col.pii in PSEUDONYMISED else RAW_ID_PATTERN
        out.append(_rule("malformed_id", lambda s, p=pattern: s.str.fullmatch(p)))
    if col.name == "snapshot":
        out.append(_rule("bad_snapshot", lambda s: s.str.fullmatch(SNAPSHOT_PATTERN)))
    if col.allowed is not None:
        out.append(_rule("unknown_code", lambda s, a=list(col.allowed): s.isin(a)))
    if col.ge is not None:
        out.append(_rule("negative_value" if col.ge == 0 else "below_minimum",
                         lambda s, v=col.ge: s >= v))
    if col.le is not None:
        out.append(_rule("above_maximum", lambda s, v=col.le: s <= v))
    if col.kind == "date":
        out.append(_rule("implausible_date", lambda s: s >= EARLIEST_DATE))
    return out


def _snapshot_end(snapshot: pd.Series) -> pd.Series:
    # a file holds few distinct months: parse each once, then map back to the rows
    codes, months = pd.factorize(snapshot)
    ends = pd.to_datetime(pd.Series(months, dtype=object), format="%Y-%m",
                          errors="coerce") + pd.offsets.MonthEnd(0)
    return pd.Series(ends.array.take(codes, allow_fill=True), index=snapshot.index)


def _frame_checks(spec: TableSpec) -> list[pa.Check]:
    def as_of_in_snapshot(df: pd.DataFrame) -> pd.Series:
        end = _snapshot_end(df["snapshot"])
        start = end - pd.offsets.MonthBegin(1)
        ok = (df["as_of_date"] >= start) & (df["as_of_date"] <= end)
        return ok.fillna(False).astype(bool)

    checks = [pa.Check(as_of_in_snapshot, name="as_of_outside_snapshot")]
    if spec.event_date is not None:
        ev = spec.event_date

        def event_not_in_future(df: pd.DataFrame) -> pd.Series:
            ok = df[ev] <= df["as_of_date"]
            return ok.fillna(True).astype(bool)

        checks.append(pa.Check(event_not_in_future, name="future_date"))
    for a, b in spec.not_greater:
        def ordered(df: pd.DataFrame, a: str = a, b: str = b) -> pd.Series:
            return (df[a] <= df[b]).fillna(True).astype(bool)

        checks.append(pa.Check(ordered, name=f"{a}_exceeds_{b}"))
    return checks


def schema(spec: TableSpec, *, clean: bool = False) -> pa.DataFrameSchema:
    """The pandera schema of ``spec``: raw extract (default) or ingested store (``clean``)."""
    columns = {
        c.name: pa.Column(
            _DTYPES[c.kind], checks=_checks(c, clean=clean), nullable=c.nullable,
            coerce=True, description=c.description, title=c.name,
        )
        for c in spec.columns
        if not (clean and c.pii == "drop")
    }
    return pa.DataFrameSchema(
        columns, checks=_frame_checks(spec), unique=list(spec.key),
        report_duplicates="exclude_first", strict=clean, ordered=False, name=spec.name,
        coerce=True)


def raw_schema(name: str) -> pa.DataFrameSchema:
    """Schema of a raw department extract called ``name``."""
    return schema(TABLES[name])


def clean_schema(name: str) -> pa.DataFrameSchema:
    """Schema of the ingested, pseudonymised table called ``name``."""
    return schema(TABLES[name], clean=True)
