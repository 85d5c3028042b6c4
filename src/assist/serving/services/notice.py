"""The notice to a visited household (PIPL art. 24), Chinese first and English beside.

It says that the service identified the household, which departments' data were used (the
source tables of the indicators behind its top factors, from the catalog), the top factors,
what the visit decided, and how to ask for an explanation, correct data or contest (the
declared texts :data:`RIGHTS` and :data:`CONTACT`). Only for households with a recorded
decision, in the caller's streets; every read is audited.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from assist.features import CATALOG
from assist.features.bilingual import Label
from assist.features.catalog import Catalog
from assist.features.codes import DEPARTMENTS, PROGRAMMES, STREETS
from assist.serving import audit
from assist.serving.auth import Principal
from assist.serving.errors import ApiError
from assist.serving.models import HouseholdScore, Referral, Snapshot
from assist.serving.schemas import DataSource, HouseholdNotice, NoticeText
from assist.serving.services.contests import household_contests, in_scope_street, latest_decision
from assist.serving.services.households import household_profile

IDENTIFIED = Label(
    "{street}精准救助服务根据下列部门的数据，于{month}识别出您家可能需要帮助，并安排社工上门走访。"
    "评分只用于安排走访；是否给予救助，由社工走访核实后决定，不由系统自动决定。",
    "The precision social-assistance service of {street_en} identified your household in "
    "{month}, from the data of the departments listed below, as possibly needing help, and a "
    "caseworker visited you. The score only decides who is visited; whether assistance is "
    "given was decided by the caseworker after the visit, not by the system alone.")
DECISION = Label("{date}走访结果：{outcome_zh}{programmes_zh}。",
                 "Visit on {date}: {outcome_en}{programmes_en}.")
OUTCOMES: dict[str, Label] = {
    "confirmed": Label("核实确有困难", "need confirmed"),
    "not_in_need": Label("核实暂不符合救助条件", "not eligible for assistance at present"),
    "unreachable": Label("未能联系到您家", "your household could not be reached"),
    "declined": Label("您家谢绝了走访", "your household declined the visit"),
}
#: the household's rights, declared once (PIPL art. 24)
RIGHTS = Label(
    "根据《个人信息保护法》第二十四条，您有权要求说明识别您家的理由，有权拒绝仅通过自动化方式作出的决定；"
    "认为数据有误的，可以要求更正；对走访结果有异议的，可以提出申诉。申诉由街道负责人审核并说明理由；"
    "申诉处理期间，不会因申诉事项再次把您家列入走访名单。",
    "Under article 24 of the Personal Information Protection Law you may ask why your household "
    "was identified and refuse a decision made solely by automated means; you may ask for wrong "
    "data to be corrected and contest the visit's decision. A manager of the street office "
    "decides a contest and gives the reasons; while it is open your household is not listed "
    "again on the contested grounds.")
#: where to ask (the street office's service window), declared once
CONTACT = Label(
    "请到{street}社区事务受理服务中心（街道办事处服务窗口）提出，或告诉走访您的社工；请带上本通知。",
    "Ask at the community affairs service centre of {street_en} (the street office's service "
    "window), or tell the caseworker who visited you; please bring this notice.")


def factor_sources(factors: Sequence[str], values: Mapping[str, Any],
                   catalog: Catalog = CATALOG) -> list[str]:
    """Source tables of the indicators behind ``factors`` (English sentences, as scoring
    wrote them from the household's ``values``); where no factor names an indicator, those
    of the indicators the household is deprived on. Catalog order, each table once."""
    wanted = set(factors)
    hits = [ind for ind in catalog if ind.id in values and values[ind.id] is not None
            and ind.sentence(values[ind.id], "en") in wanted]
    if not hits:
        indicators, _ = household_profile(values, catalog)
        deprived = {i.id for i in indicators if i.deprived}
        hits = [ind for ind in catalog if ind.id in deprived]
    return list(dict.fromkeys(t for ind in hits for t in ind.sources))


def _programmes(codes: Sequence[str]) -> tuple[str, str]:
    if not codes:
        return "", ""
    zh = "、".join(PROGRAMMES.get(c, c) for c in codes)
    en = ", ".join(f"{PROGRAMMES.get(c, c)} ({c})" for c in codes)
    return f"，给予{zh}", f"; granted: {en}"


def household_notice(session: Session, *, who: Principal, household_id: str, endpoint: str,
                     catalog: Catalog = CATALOG) -> HouseholdNotice:
    """The notice of a visited household in the caller's streets (404 otherwise; 409
    ``not_visited`` without a recorded decision); the read is audited."""
    street = in_scope_street(session, who, household_id)
    d = latest_decision(session, household_id)
    if d is None:
        raise ApiError(409, "not_visited", "no visit decision is recorded for this household: "
                       "the notice follows a visit")
    referral, as_of = session.execute(select(Referral, Snapshot.as_of).join(Snapshot)
                                      .where(Referral.id == d.referral_id)).one()
    values = session.scalars(select(HouseholdScore.values).where(
        HouseholdScore.snapshot_id == referral.snapshot_id,
        HouseholdScore.household_id == household_id)).first() or {}
    tables = factor_sources(referral.top_factors_en, values, catalog)
    name = STREETS.get(street, street)
    names = {"street": name, "street_en": f"{name} ({street})", "month": as_of}
    outcome = OUTCOMES.get(d.outcome, Label.same(d.outcome))
    prog_zh, prog_en = _programmes(d.programmes_granted or [])
    date = d.visit_date.isoformat()
    audit.record(session, who=who, action="notice.read", endpoint=endpoint,
                 household_id=household_id, detail={"decision_id": d.id, "as_of": as_of})
    session.commit()
    return HouseholdNotice(
        household_id=household_id, street_code=street, street_name=name, as_of=as_of,
        identified=NoticeText(zh=IDENTIFIED.zh.format(**names), en=IDENTIFIED.en.format(**names)),
        sources=[DataSource(table=t, department_zh=DEPARTMENTS[t].zh if t in DEPARTMENTS else t,
                            department_en=DEPARTMENTS[t].en if t in DEPARTMENTS else t)
                 for t in tables],
        top_factors_zh=list(referral.top_factors_zh), top_factors_en=list(referral.top_factors_en),
        decision=NoticeText(zh=DECISION.zh.format(date=date, outcome_zh=outcome.zh,
                                                  programmes_zh=prog_zh),
                            en=DECISION.en.format(date=date, outcome_en=outcome.en,
                                                  programmes_en=prog_en)),
        outcome=d.outcome, visit_date=d.visit_date,
        programmes_granted=list(d.programmes_granted or []),
        rights=NoticeText(zh=RIGHTS.zh, en=RIGHTS.en),
        contact=NoticeText(zh=CONTACT.zh.format(**names), en=CONTACT.en.format(**names)),
        contests=household_contests(session, household_id))
