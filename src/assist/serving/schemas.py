"""Request and response schemas (Base / Create / Public families). Inputs forbid unknown
fields; every response is a declared model (fast serialisation, documented OpenAPI).

Routes build their response model once (validated by pydantic) and return it through
:func:`json_response`, so FastAPI neither validates it a second time on another worker thread
nor re-encodes it; ``response_model=`` on the route still documents it in OpenAPI.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from starlette.responses import Response

Outcome = Literal["confirmed", "not_in_need", "unreachable", "declined"]
Rating = Literal["good", "bad"]
Band = Literal["high", "medium", "low"]
Status = Literal["open", "confirmed", "not_in_need", "unreachable", "declined"]
Grounds = Literal["wrong_data", "disagree_decision", "refuse_automated", "other"]
ContestOutcome = Literal["upheld", "rejected", "data_corrected"]

#: C0 and C1 control characters (NUL included) and lone UTF-16 surrogates: refused in every
#: text input. PostgreSQL refuses NUL in text and psycopg cannot encode a lone surrogate, so
#: they would otherwise fail inside the store (500); SQLite would store and echo them.
_REFUSED_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
#: the same for free text (notes, reasons), which keeps tab, line feed and carriage return:
#: a note is typed into a multi-line box and browsers send its line breaks as CR LF
_REFUSED_FREE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
#: the message of every refusal (the 422 names the field; the value is never echoed)
CONTROL_MESSAGE = "control characters are not allowed"


def control_character(value: str, *, free_text: bool = False) -> bool:
    """Whether ``value`` holds a character refused in text inputs (see :data:`Text`)."""
    return (_REFUSED_FREE if free_text else _REFUSED_LINE).search(value) is not None


def _line(value: str) -> str:
    if control_character(value):
        raise ValueError(CONTROL_MESSAGE)
    return value


def _free(value: str) -> str:
    if control_character(value, free_text=True):
        raise ValueError(CONTROL_MESSAGE)
    return value


#: one line of text: no control characters at all (usernames, passwords, codes typed in forms).
#: Format characters such as RTL marks (U+200F) are accepted: they are legitimate in text and
#: harmless to both stores.
Text = Annotated[str, AfterValidator(_line)]
#: free text (notes, reasons): tab and line breaks allowed, other control characters refused
FreeText = Annotated[str, AfterValidator(_free)]
ShortText = Annotated[FreeText, Field(max_length=2000)]
Code = Annotated[Text, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_]+$")]
#: stored times are UTC; SQLite returns them naive, so responses always say so
UtcDatetime = Annotated[dt.datetime, AfterValidator(
    lambda v: v if v.tzinfo else v.replace(tzinfo=dt.UTC))]
HOUSEHOLD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


def json_response(model: BaseModel, *, status_code: int = 200) -> Response:
    """``model`` as a JSON response (serialised by pydantic, in the calling thread)."""
    return Response(model.model_dump_json(), status_code=status_code,
                    media_type="application/json")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# auth ------------------------------------------------------------------------------------
class TokenRequest(_In):
    """Username and password."""

    username: Annotated[Text, Field(min_length=1, max_length=64)]
    password: Annotated[Text, Field(min_length=1, max_length=256)]


class TokenPublic(_Out):
    """A bearer token."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    role: str


# referrals --------------------------------------------------------------------------------
class ReferralPublic(_Out):
    """A listed household: score, band, ranks, top factors, programmes, allocation, flags."""

    id: int
    household_id: str
    street_code: str
    community_code: str
    probability: float
    band: str
    rank_street: int
    rank_community: int
    rank_district: int
    deprivation_score: float
    allocated: bool
    primary_cause: str | None
    secondary_cause: str | None
    top_factors_en: list[str]
    top_factors_zh: list[str]
    programmes: list[str]
    allocated_programmes: list[str]
    flags: list[str]
    status: str
    receiving: list[str] | None = Field(default=None, description=(
        "Programmes the household already receives (active grants); null: not in the "
        "snapshot it was loaded from."))
    last_outcome: str | None = Field(default=None, description=(
        "The household's last decision before this month (an outcome, or 'pending': allocated, "
        "not decided yet); null: none recorded."))
    last_decision_date: dt.date | None = Field(default=None, description="Its visit date.")
    listing: str | None = Field(default=None, description=(
        "Why the household is listed this month (decisions carried forward): new, pending, "
        "pending_overdue, retry, reopened_changed, relisted, follow_up_due, review_changed, ..."))
    listing_zh: str | None = None
    listing_en: str | None = None
    new_this_month: bool | None = Field(default=None, description=(
        "Not on the previous month's list (true), on it (false); null: the previous month's "
        "list is not in the case store."))


class ReferralPage(_Out):
    """One page of the caller's referral list."""

    as_of: str
    total: int
    page: int
    page_size: int
    items: list[ReferralPublic]


# decisions --------------------------------------------------------------------------------
class DecisionBase(_In):
    """What a caseworker found on the visit."""

    outcome: Outcome
    visit_date: dt.date | None = Field(default=None, description=(
        "Date of the visit in the district's calendar (UTC+8; default today): not after today, "
        "not before the first day of the referral's snapshot month (else 422)."))
    programmes_granted: Annotated[list[Code], Field(max_length=20)] = []
    override_reason: ShortText | None = Field(
        default=None, description="Required when the outcome disagrees with the score's band.")
    note: ShortText | None = Field(default=None, description="What the data could not see.")
    rating: Rating | None = Field(default=None, description="好差评: was the referral useful?")
    rating_reason: ShortText | None = None


class DecisionCreate(DecisionBase):
    """A new decision on a referral."""

    referral_id: Annotated[int, Field(ge=1, le=2**31 - 1)]


class DecisionUpdate(DecisionBase):
    """A changed decision; ``version`` must be the one last read (else 409)."""

    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


class DecisionPublic(_Out):
    """A recorded decision."""

    id: int
    referral_id: int
    household_id: str
    outcome: str
    visit_date: dt.date
    programmes_granted: list[str]
    override: bool
    override_reason: str | None
    note: str | None
    rating: str | None
    rating_reason: str | None
    band_at_decision: str
    recorded_by: int
    created_at: UtcDatetime
    updated_at: UtcDatetime
    version: int


# households -------------------------------------------------------------------------------
class IndicatorValue(_Out):
    """One indicator of a household, with its catalog names."""

    id: str
    name_zh: str
    name_en: str
    dimension: str
    unit: str
    value: float | None
    deprived: bool | None
    cutoff: float
    direction: int


class DimensionProfile(_Out):
    """Weighted share of a dimension's indicators the household is deprived on."""

    dimension: str
    deprived_indicators: int
    indicators: int
    weighted_deprivation: float


class ScorePoint(_Out):
    """The household's score in one snapshot."""

    as_of: str
    probability: float
    band: str
    rank_district: int
    deprivation_score: float


class HouseholdDetail(_Out):
    """Everything a caseworker needs about one household (pseudonymous id)."""

    household_id: str
    as_of: str
    street_code: str
    community_code: str
    probability: float
    band: str
    rank_district: int
    deprivation_score: float
    indicators: list[IndicatorValue]
    dimensions: list[DimensionProfile]
    referral: ReferralPublic | None
    explanation_en: list[str]
    explanation_zh: list[str]
    reasons_en: list[str]
    reasons_zh: list[str]
    history: list[ScorePoint]
    decisions: list[DecisionPublic]
    listed_this_month: bool = Field(default=False, description=(
        "On the current snapshot's referral list."))
    last_outcome: str | None = Field(default=None, description=(
        "Last decision before the current snapshot's month (see ReferralPublic)."))
    last_decision_date: dt.date | None = None
    listing: str | None = Field(default=None, description=(
        "Why the household is (or is not) listed this month; null: no decision recorded, "
        "ranked by its score (see ReferralPublic)."))
    listing_zh: str | None = None
    listing_en: str | None = None


# notice and contest (PIPL art. 24) -------------------------------------------------------
class ContestCreate(_In):
    """A household contests its identification or the visit's decision."""

    household_id: Annotated[Text, Field(pattern=HOUSEHOLD_ID_PATTERN)]
    grounds: Grounds = Field(description=(
        "wrong_data, disagree_decision, refuse_automated (refuses an assessment by automated "
        "means alone) or other."))
    text: Annotated[ShortText, Field(min_length=1)] = Field(
        description="The household's own words (required).")
    disputed_indicators: Annotated[list[Code], Field(max_length=22)] = Field(
        default=[], description="Indicator ids of the catalog whose data are disputed.")


class ContestDecide(_In):
    """A manager's decision on an open contest; ``version`` must be the one last read."""

    outcome: ContestOutcome = Field(description=(
        "upheld, rejected, or data_corrected (the data were wrong: marked for correction)."))
    reason: Annotated[ShortText, Field(min_length=1)] = Field(description="Required.")
    version: Annotated[int, Field(ge=1, le=2**31 - 1)]


class ContestPublic(_Out):
    """A recorded contest and, once decided, its outcome."""

    id: int
    household_id: str
    street_code: str
    decision_id: int | None
    channel: str
    grounds: str
    text: str | None
    disputed_indicators: list[str]
    status: str
    decision_reason: str | None
    correction_needed: bool
    recorded_by: int
    decided_by: int | None
    created_at: UtcDatetime
    decided_at: UtcDatetime | None
    version: int


class ContestList(_Out):
    """Contests, open ones first."""

    total: int
    open: int
    items: list[ContestPublic]


class NoticeText(_Out):
    """One part of a notice, Chinese first and English beside."""

    zh: str
    en: str


class DataSource(_Out):
    """A department extract behind the household's top factors."""

    table: str
    department_zh: str
    department_en: str


class HouseholdNotice(_Out):
    """The notice to a visited household: identified by the service, the departments' data
    used, its top factors, what the visit decided and how to ask, correct or contest."""

    household_id: str
    street_code: str
    street_name: str
    as_of: str
    identified: NoticeText
    sources: list[DataSource]
    top_factors_zh: list[str]
    top_factors_en: list[str]
    decision: NoticeText
    outcome: str
    visit_date: dt.date
    programmes_granted: list[str]
    rights: NoticeText
    contact: NoticeText
    contests: list[ContestPublic]


# models, health ---------------------------------------------------------------------------
class ModelPublic(_Out):
    """The model behind the current scoring snapshot and its card summary."""

    as_of: str
    model_version: str
    config_hash: str
    catalog_version: str | None
    households_scored: int | None
    bands: dict[str, int]
    explained: int | None
    truth: dict[str, Any] | None
    loaded_at: UtcDatetime


class Health(_Out):
    """Liveness or readiness."""

    status: Literal["ok", "not_ready"]
    checks: dict[str, str] = {}
