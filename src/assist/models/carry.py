"""Decisions carried forward: who is listed again this month, by declared rules.

Scoring reads the case store's decisions snapshot (:mod:`assist.storage.casebook`, one row per
decision, plus ``pending`` rows for allocated referrals nobody has decided yet) and, before
allocation, gives every scored household a *listing* — a code and a reason in Chinese and
English (:class:`~assist.features.bilingual.Label` templates):

==========================  ==================================================================
``new``                     no decision recorded: ranked by this month's score
``pending``                 allocated earlier, not decided yet: kept allocated on its street
                            (within the street's visits), not handed to another caseworker
``pending_overdue``         pending for more than ``pending_months``: back into the allocation
``retry``                   unreachable / declined, fewer than ``retry_limit`` retries so far:
                            a candidate again (``retry_priority``: ``ranked`` by score, or
                            ``pinned`` like a pending visit)
``retries_exhausted``       unreachable / declined ``retry_limit`` + 1 times: not listed for
                            ``quiet_months``
``suppressed_not_in_need``  found not in need less than ``quiet_months`` ago: not listed
``follow_up``               confirmed / granted: assisted follow-up, not re-visited as new;
                            granted programmes are never offered again
``follow_up_due``           assisted, review due (every ``review_months``): listed, not
                            allocated (reviews are not new-referral visits)
``reopened_changed``        a quiet household (not in need, retries exhausted) with an
                            early-warning flag or a need band rise this month, its last decision
                            at least ``reopen_after_months`` old: a candidate again
``review_changed``          an assisted household with such a change: its review is brought
                            forward (listed, not allocated: its own caseworker reviews it; an
                            outreach visit would find what the case file already holds)
``relisted``                the last decision's rule has lapsed: ranked by score as new
``contested``               the household has an open contest (PIPL art. 24): not a
                            candidate, not listed, until a manager decides it
==========================  ==================================================================

Everything is vectorised over frames: no loop over households.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from assist.features.bilingual import Label
from assist.models.allocation import Capacities, ProgrammeCapacity, StreetCapacity

LISTINGS: dict[str, Label] = {
    "new": Label("尚无走访决定：按本月评分排序", "No decision recorded: ranked by this month's score"),
    "pending": Label("{month}分派的走访尚未办结：保留在原社工名单上",
                     "Visit allocated in {month} still pending: kept on the same caseworker's list"),
    "pending_overdue": Label("{month}分派的走访超过{n}个月未办结：重新参与本月分派",
                             "Visit allocated in {month} pending for over {n} months: "
                             "back into this month's allocation"),
    "retry": Label("{date}走访{outcome_zh}（已重试{tries}次，最多{k}次）：再次列入",
                   "{outcome_en} on {date} (retried {tries} of {k} times): listed again"),
    "retries_exhausted": Label("{date}走访{outcome_zh}，已重试{k}次：{until}前不再列入，除非情况有变",
                               "{outcome_en} on {date} after {k} retries: not listed before "
                               "{until} unless its situation changes"),
    "suppressed_not_in_need": Label("{date}核实不符合救助条件：{until}前不再列入，除非出现预警或需求等级上升",
                                    "Found not in need on {date}: not listed before {until} "
                                    "unless an early warning or a band rise says it changed"),
    "follow_up": Label("{date}核实困难{programmes_zh}：跟踪回访，下次复核{until}，不作为新对象走访",
                       "Confirmed in need on {date}{programmes_en}: in follow-up, next review "
                       "{until}; not visited as new"),
    "follow_up_due": Label("{date}核实困难{programmes_zh}：本月到期复核",
                           "Confirmed in need on {date}{programmes_en}: follow-up review due "
                           "this month"),
    "review_changed": Label("{date}核实困难{programmes_zh}：本月{change_zh}，提前复核（不作为新对象走访）",
                            "Confirmed in need on {date}{programmes_en}: {change_en} this "
                            "month, review brought forward (not a new-referral visit)"),
    "reopened_changed": Label("上次决定（{date}，{outcome_zh}）后情况有变（{change_zh}）：重新列入",
                              "Last decision ({outcome_en} on {date}) set aside: {change_en} "
                              "this month, listed again"),
    "relisted": Label("上次决定（{date}，{outcome_zh}）已超过规则期限：按本月评分排序",
                      "Last decision ({outcome_en} on {date}) has lapsed: ranked by this "
                      "month's score"),
    "contested": Label("申诉处理中：经理裁决前不因申诉事项再次列入",
                       "Contest pending: not listed again on the contested grounds until a "
                       "manager decides it"),
}
OUTCOME_LABELS: dict[str, Label] = {
    "confirmed": Label("核实困难", "Confirmed in need"),
    "not_in_need": Label("不符合条件", "Not in need"),
    "unreachable": Label("未能联系", "Unreachable"),
    "declined": Label("被拒绝", "Declined"),
    "pending": Label("待走访", "Pending"),
    "contested": Label("申诉中", "Contested"),
}
CHANGE_LABELS: dict[str, Label] = {"warning": Label("出现预警", "an early-warning flag"),
                                   "band_rise": Label("需求等级上升", "a need band rise")}
#: listings whose household may be allocated by the solver
CANDIDATE = ("new", "pending_overdue", "retry", "reopened_changed", "relisted")
FAILED = ("unreachable", "declined")
#: listings a decision keeps off the month's list, an early-warning flag notwithstanding
QUIET = ("suppressed_not_in_need", "retries_exhausted", "contested")
#: the decisions snapshot's outcome for a household with an open contest
CONTESTED = "contested"
BAND_LEVEL = {"low": 0, "medium": 1, "high": 2}


@dataclass(frozen=True)
class CarryRules:
    """The declared rules (``carry_forward`` of ``experiments/scoring.yaml``)."""

    quiet_months: int = 6
    review_months: int = 6
    retry_limit: int = 2
    retry_priority: Literal["ranked", "pinned"] = "ranked"
    pending_months: int = 2
    reopen_after_months: int = 3


@dataclass(frozen=True, eq=False)
class Carry:
    """Per scored household: ``last_outcome``, ``last_decision_date``, ``listing``,
    ``listing_zh``, ``listing_en``, ``candidate`` (the solver may allocate it), ``pinned`` (kept
    allocated if its street has room), ``listed`` (on the list whatever the solver does);
    and ``granted`` (households x programmes ever granted, never offered again)."""

    status: pd.DataFrame
    granted: pd.DataFrame

    def counts(self) -> dict[str, int]:
        """Households per listing code (JSON-safe)."""
        return {str(k): int(v) for k, v in self.status["listing"].value_counts().items()}


def month_index(month: pd.Series | str) -> pd.Series | int:
    """``YYYY-MM`` as a month number (year * 12 + month - 1), for month arithmetic."""
    if isinstance(month, str):
        return int(month[:4]) * 12 + int(month[5:7]) - 1
    s = month.astype("string")
    return s.str[:4].astype("Int64") * 12 + s.str[5:7].astype("Int64") - 1


def month_text(index: pd.Series) -> pd.Series:
    """Inverse of :func:`month_index` (``YYYY-MM`` text)."""
    i = index.astype("Int64")
    return ((i // 12).astype("string") + "-" + (i % 12 + 1).astype("string").str.zfill(2))


def latest_decisions(decisions: pd.DataFrame, *, as_of: str) -> pd.DataFrame:
    """Per household, its latest decision before ``as_of`` (by referral month, then time
    updated), with ``tries``: how many unreachable / declined outcomes end its history, and
    ``since``: the month number the run of outcomes like the last one began (a pending visit's
    first month)."""
    d = decisions.loc[decisions["referral_month"].astype(str) < as_of].copy()
    d["household_id"] = d["household_id"].astype(str)
    d["m"] = month_index(d["referral_month"])
    d["u"] = pd.to_datetime(d["updated_at"], utc=True)
    d = d.sort_values(["household_id", "m", "u"], kind="stable")
    hh = d["household_id"]
    failed = d["outcome"].isin(FAILED)
    pending = d["outcome"].eq("pending")
    d["tries"] = _trailing(failed, hh).groupby(hh).transform("sum")
    d["since"] = d["m"].where(_trailing(pending, hh)).groupby(hh).transform("min")
    last = d.groupby("household_id", sort=False).tail(1).set_index("household_id")
    return last[["outcome", "m", "visit_date", "tries", "since"]]


def _trailing(flag: pd.Series, household: pd.Series) -> pd.Series:
    """Rows of ``flag`` in the run that ends each household's (sorted) history."""
    block = (~flag).astype(int).groupby(household).cumsum()
    return flag & (block == block.groupby(household).transform("max"))


def granted_programmes(decisions: pd.DataFrame, households: pd.Index,
                       codes: list[str]) -> pd.DataFrame:
    """Households x programme codes: granted in any recorded decision."""
    g = decisions[["household_id", "programmes_granted"]].explode("programmes_granted").dropna()
    g = g.loc[g["programmes_granted"].isin(codes)]
    out = np.zeros((len(households), len(codes)), dtype=bool)
    rows = households.get_indexer(g["household_id"].astype(str))
    ok = rows >= 0
    out[rows[ok], pd.Index(codes).get_indexer(g["programmes_granted"][ok])] = True
    return pd.DataFrame(out, index=households, columns=codes)


def carry_forward(decisions: pd.DataFrame, *, as_of: str, households: pd.DataFrame,
                  rules: CarryRules, codes: list[str]) -> Carry:
    """Apply ``rules`` to the households of this month (``households``: ``band``, and when last
    month is known ``previous_band`` and ``warning``) given the decisions snapshot."""
    idx = households.index
    last = latest_decisions(decisions, as_of=as_of).reindex(idx)
    now = month_index(as_of)
    outcome = last["outcome"].astype("string")
    age = (now - last["m"]).astype("Int64")
    changed = _changed(households)
    code = pd.Series("new", index=idx, dtype=object)

    def put(mask: pd.Series, value: str) -> None:
        code[mask.fillna(False).to_numpy(dtype=bool)] = value

    put(outcome.eq("pending"), "pending")
    put(outcome.eq("pending") & (now - last["since"]).gt(rules.pending_months),
        "pending_overdue")
    failed = outcome.isin(FAILED)
    put(failed & last["tries"].le(rules.retry_limit), "retry")
    put(failed & last["tries"].gt(rules.retry_limit), "retries_exhausted")
    put(outcome.eq("not_in_need"), "suppressed_not_in_need")
    assisted = outcome.eq("confirmed")
    put(assisted, "follow_up")
    put(assisted & age.gt(0) & (age % rules.review_months).eq(0), "follow_up_due")
    quiet = code.isin(["retries_exhausted", "suppressed_not_in_need"])
    put(quiet & age.ge(rules.quiet_months), "relisted")
    put(code.isin(["retries_exhausted", "suppressed_not_in_need"]) & changed.ne("")
        & age.ge(rules.reopen_after_months), "reopened_changed")
    put(code.isin(["follow_up", "follow_up_due"]) & changed.ne(""), "review_changed")
    put(outcome.eq(CONTESTED), "contested")
    status = pd.DataFrame({"last_outcome": outcome,
                           "last_decision_date": _date_text(last["visit_date"]),
                           "listing": code}, index=idx)
    granted = granted_programmes(decisions, idx, codes)
    status["listing_zh"] = pd.Series(LISTINGS["new"].zh, index=idx, dtype=object)
    status["listing_en"] = pd.Series(LISTINGS["new"].en, index=idx, dtype=object)
    d = outcome.notna().to_numpy()  # reasons are worded only for the (few) decided households
    if d.any():
        zh, en = _reasons(status[d], last=last[d], age=age[d], changed=changed[d], rules=rules,
                          granted=granted[d])
        status.loc[d, "listing_zh"], status.loc[d, "listing_en"] = zh.to_numpy(), en.to_numpy()
    status["pinned"] = code.eq("pending") | (code.eq("retry") & (rules.retry_priority == "pinned"))
    status["candidate"] = code.isin(CANDIDATE) & ~status["pinned"]
    status["listed"] = code.isin(["follow_up_due", "review_changed"])
    return Carry(status=status, granted=granted)


def _changed(households: pd.DataFrame) -> pd.Series:
    """``warning`` / ``band_rise`` / empty: what says a household's situation changed."""
    out = pd.Series("", index=households.index, dtype=object)
    if "previous_band" in households:
        before = households["previous_band"].astype(object).map(BAND_LEVEL)
        after = households["band"].astype(object).map(BAND_LEVEL)
        out[(after > before).to_numpy()] = "band_rise"
    if "warning" in households:
        out[households["warning"].fillna(False).to_numpy(dtype=bool)] = "warning"
    return out


def _date_text(visit_date: pd.Series) -> pd.Series:
    d = pd.to_datetime(visit_date, errors="coerce")
    return d.dt.strftime("%Y-%m-%d").astype("string")


def _reasons(status: pd.DataFrame, *, last: pd.DataFrame, age: pd.Series, changed: pd.Series,
             rules: CarryRules, granted: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The listing reasons in Chinese and English: each code's template filled column-wise."""
    outcome = status["last_outcome"].astype(object)
    month = month_text(last["since"].fillna(last["m"]))
    due = last["m"] + ((age // rules.review_months) + 1) * rules.review_months
    programmes = pd.Series("", index=granted.index, dtype=object)
    has = granted.to_numpy(dtype=bool)
    some = has.any(axis=1)
    if some.any():  # only the (few) households with a grant
        names = np.array([c + "," for c in granted.columns], dtype=object)
        joined = np.where(has[some], names, "").astype(object).sum(axis=1)
        programmes[some] = pd.Series(joined, dtype=object).str.rstrip(",").to_numpy()
    fields = {
        "month": month, "n": str(rules.pending_months), "k": str(rules.retry_limit),
        "date": status["last_decision_date"].fillna(month),
        "tries": (last["tries"].fillna(1) - 1).astype("Int64").astype("string"),
        "until": month_text(last["m"] + rules.quiet_months),
        "programmes_zh": ("，已纳入救助（" + programmes + "）").where(programmes != "", ""),
        "programmes_en": (", assisted (" + programmes + ")").where(programmes != "", ""),
        "outcome_zh": outcome.map({k: v.zh for k, v in OUTCOME_LABELS.items()}),
        "outcome_en": outcome.map({k: v.en for k, v in OUTCOME_LABELS.items()}),
        "change_zh": changed.map({k: v.zh for k, v in CHANGE_LABELS.items()}),
        "change_en": changed.map({k: v.en for k, v in CHANGE_LABELS.items()}),
    }
    fields_follow = {**fields, "until": month_text(due)}
    zh = pd.Series(LISTINGS["new"].zh, index=status.index, dtype=object)
    en = pd.Series(LISTINGS["new"].en, index=status.index, dtype=object)
    for code, label in LISTINGS.items():
        rows = (status["listing"] == code).to_numpy()
        if code == "new" or not rows.any():
            continue
        f = fields_follow if code == "follow_up" else fields
        zh[rows] = _fill(label.zh, f, rows)
        en[rows] = _fill(label.en, f, rows)
    return zh, en


def _fill(template: str, fields: dict[str, pd.Series | str], rows: np.ndarray) -> np.ndarray:
    """``template`` with ``{name}`` replaced by the rows' values of ``fields`` (vectorised)."""
    out = np.full(int(rows.sum()), "", dtype=object)
    for literal, name, _, _ in string.Formatter().parse(template):
        out = out + literal
        if name:
            value = fields[name]
            if isinstance(value, str):
                out = out + value
                continue
            part = pd.Series(value.astype(object).to_numpy()[rows], dtype=object)
            out = out + part.fillna("").astype(str).to_numpy(dtype=object)
    return out


@dataclass(frozen=True, eq=False)
class Pinned:
    """Pinned households kept allocated, the places they take, and what is left for the rest."""

    #: per kept household: True (index: household id)
    visit: pd.Series
    #: per kept household and programme: place offered (its first referable one with a place)
    offers: pd.DataFrame
    capacities: Capacities


def pin(*, pinned: pd.Index, probability: pd.Series, street: pd.Series,
        referable: pd.DataFrame, capacities: Capacities) -> Pinned:
    """Keep pinned households allocated within their street's visits (the district's too),
    highest probability first (ties: household id), offer each its first referable programme
    that still has a place, and return the capacities left for the solver."""
    frame = pd.DataFrame({"p": probability.reindex(pinned).to_numpy(dtype=float),
                          "s": street.reindex(pinned).astype(str).to_numpy()}, index=pinned)
    frame = frame.sort_values(["s", "p"], ascending=[True, False], kind="stable")
    visits = frame["s"].map(lambda s: capacities.street(s).visits).to_numpy()
    keep = frame.loc[frame.groupby("s", sort=False).cumcount().to_numpy() < visits]
    if capacities.district_visits is not None:
        keep = keep.sort_values("p", ascending=False, kind="stable").head(
            capacities.district_visits)
    codes = list(referable.columns)
    ref = referable.reindex(keep.index).fillna(False).to_numpy(dtype=bool)
    first = np.where(ref.any(axis=1), ref.argmax(axis=1), -1)
    order = np.argsort(-keep["p"].to_numpy(), kind="stable")
    offers = np.zeros_like(ref)
    taken = {}
    for j, code in enumerate(codes):  # one pass per programme (a handful), not per household
        wants = order[first[order] == j]
        n = int(min(len(wants), capacities.places(code)))
        offers[wants[:n], j] = True
        taken[code] = n
    used = keep["s"].value_counts()
    return Pinned(visit=pd.Series(True, index=keep.index, name="allocated"),
                  offers=pd.DataFrame(offers, index=keep.index, columns=codes),
                  capacities=_left(capacities, used, taken, street))


def _left(capacities: Capacities, used: pd.Series, taken: dict[str, int],
          street: pd.Series) -> Capacities:
    """``capacities`` minus the pinned visits per street and places per programme."""
    names = set(map(str, street.dropna().unique())) | set(capacities.streets)
    streets = {}
    for s in names:
        cap, n = capacities.street(s), int(used.get(s, 0))
        streets[s] = StreetCapacity(visits=max(cap.visits - n, 0), floor=max(cap.floor - n, 0))
    programmes = dict(capacities.programmes)
    for code, n in taken.items():
        left = capacities.places(code)
        if n and np.isfinite(left):
            old = capacities.programmes.get(code, ProgrammeCapacity())
            programmes[code] = ProgrammeCapacity(places=int(left) - n, value=old.value)
    district = (None if capacities.district_visits is None
                else max(capacities.district_visits - int(used.sum()), 0))
    return replace(capacities, streets=streets, programmes=programmes, district_visits=district)
