"""Decisions carried forward: every rule on a hand-made case (:mod:`assist.models.carry`)."""

from __future__ import annotations

import pandas as pd
import pytest

from assist.models.allocation import Capacities, ProgrammeCapacity, StreetCapacity
from assist.models.carry import CarryRules, carry_forward, latest_decisions, pin

AS_OF = "2026-11"
CODES = ["dibao", "medical"]
RULES = CarryRules(quiet_months=6, review_months=6, retry_limit=2, retry_priority="ranked",
                   pending_months=2)


def decisions(*rows: tuple) -> pd.DataFrame:
    """Rows of (household, referral month, outcome, visit date, granted)."""
    return pd.DataFrame(
        [{"household_id": h, "referral_month": m, "outcome": o, "visit_date": d,
          "programmes_granted": list(g), "updated_at": pd.Timestamp(f"{m}-20", tz="UTC")}
         for h, m, o, d, g in rows],
        columns=["household_id", "referral_month", "outcome", "visit_date",
                 "programmes_granted", "updated_at"])


def households(ids: list[str], *, band: str = "medium", previous: str | None = "medium",
               warning: bool = False, **over) -> pd.DataFrame:
    """This month's bands, last month's and flags (``over``: per household ``(band, prev, warn)``)."""
    rows = {h: over.get(h, (band, previous, warning)) for h in ids}
    return pd.DataFrame.from_dict(rows, orient="index",
                                  columns=["band", "previous_band", "warning"])


def listing(dec: pd.DataFrame, hh: pd.DataFrame, rules: CarryRules = RULES,
            as_of: str = AS_OF) -> pd.DataFrame:
    return carry_forward(dec, as_of=as_of, households=hh, rules=rules, codes=CODES).status


@pytest.mark.parametrize(("rows", "over", "code", "candidate", "pinned", "listed"), [
    # no decision: new, a candidate
    ([], {}, "new", True, False, False),
    # not in need 1 month ago: suppressed
    ([("h", "2026-10", "not_in_need", "2026-10-12", ())], {}, "suppressed_not_in_need",
     False, False, False),
    # ... unless an early-warning flag, once the decision is 3 months old (reopen_after_months)
    ([("h", "2026-08", "not_in_need", "2026-08-12", ())], {"h": ("medium", "medium", True)},
     "reopened_changed", True, False, False),
    ([("h", "2026-10", "not_in_need", "2026-10-12", ())], {"h": ("medium", "medium", True)},
     "suppressed_not_in_need", False, False, False),
    # ... or a need band rise
    ([("h", "2026-08", "not_in_need", "2026-08-12", ())], {"h": ("high", "medium", False)},
     "reopened_changed", True, False, False),
    ([("h", "2026-09", "not_in_need", "2026-09-12", ())], {"h": ("high", "medium", False)},
     "suppressed_not_in_need", False, False, False),
    # a band fall does not reopen
    ([("h", "2026-10", "not_in_need", "2026-10-12", ())], {"h": ("low", "medium", False)},
     "suppressed_not_in_need", False, False, False),
    # ... and after quiet_months (6) it is ranked by score again
    ([("h", "2026-05", "not_in_need", "2026-05-12", ())], {}, "relisted", True, False, False),
    ([("h", "2026-06", "not_in_need", "2026-06-12", ())], {}, "suppressed_not_in_need",
     False, False, False),
    # granted: assisted follow-up, not a candidate; review due every 6 months: listed only
    ([("h", "2026-10", "confirmed", "2026-10-12", ("dibao",))], {}, "follow_up",
     False, False, False),
    ([("h", "2026-05", "confirmed", "2026-05-12", ("dibao",))], {}, "follow_up_due",
     False, False, True),
    # ... a change brings the review forward: listed, not an outreach candidate
    ([("h", "2026-05", "confirmed", "2026-05-12", ("dibao",))],
     {"h": ("medium", "medium", True)}, "review_changed", False, False, True),
    ([("h", "2026-10", "confirmed", "2026-10-12", ("dibao",))],
     {"h": ("high", "medium", False)}, "review_changed", False, False, True),
    # unreachable once, twice: retried (ranked); a third time: retries exhausted
    ([("h", "2026-10", "unreachable", "2026-10-12", ())], {}, "retry", True, False, False),
    ([("h", "2026-09", "unreachable", "2026-09-12", ()),
      ("h", "2026-10", "declined", "2026-10-12", ())], {}, "retry", True, False, False),
    ([("h", "2026-08", "unreachable", "2026-08-12", ()),
      ("h", "2026-09", "unreachable", "2026-09-12", ()),
      ("h", "2026-10", "unreachable", "2026-10-12", ())], {}, "retries_exhausted",
     False, False, False),
    # a reached visit in between restarts the count
    ([("h", "2026-07", "unreachable", "2026-07-12", ()),
      ("h", "2026-08", "unreachable", "2026-08-12", ()),
      ("h", "2026-09", "pending", None, ()),
      ("h", "2026-10", "unreachable", "2026-10-12", ())], {}, "retry", True, False, False),
    # pending: pinned on its street; pending since more than 2 months: released
    ([("h", "2026-10", "pending", None, ())], {}, "pending", False, True, False),
    ([("h", "2026-09", "pending", None, ()), ("h", "2026-10", "pending", None, ())], {},
     "pending", False, True, False),
    ([("h", "2026-08", "pending", None, ()), ("h", "2026-09", "pending", None, ()),
      ("h", "2026-10", "pending", None, ())], {}, "pending_overdue", True, False, False),
    # decisions of this month or later are not carried (scoring a month again)
    ([("h", "2026-11", "not_in_need", "2026-11-12", ())], {}, "new", True, False, False),
    # an open contest (PIPL art. 24): not listed, not a candidate, until a manager decides it,
    # whatever the decision before it and even with an early warning
    ([("h", "2026-10", "not_in_need", "2026-10-12", ()), ("h", "2026-10", "contested", None, ())],
     {}, "contested", False, False, False),
    ([("h", "2026-10", "confirmed", "2026-10-12", ("dibao",)),
      ("h", "2026-10", "contested", None, ())], {"h": ("high", "medium", True)}, "contested",
     False, False, False),
    ([("h", "2026-10", "pending", None, ()), ("h", "2026-10", "contested", None, ())], {},
     "contested", False, False, False),
    ([("h", "2026-04", "unreachable", "2026-04-03", ()), ("h", "2026-05", "contested", None, ())],
     {}, "contested", False, False, False),
])
def test_each_rule(rows, over, code, candidate, pinned, listed):
    st = listing(decisions(*rows) if rows else decisions(), households(["h", "other"], **over))
    got = st.loc["h"]
    assert (got["listing"], got["candidate"], got["pinned"], got["listed"]) == \
        (code, candidate, pinned, listed)
    assert st.loc["other", "listing"] == "new"
    assert got["listing_zh"] and got["listing_en"] and "{" not in got["listing_en"]


def test_confirmed_without_a_grant_and_declined_read_as_plain_words():
    dec = decisions(("a", "2026-10", "confirmed", "2026-10-15", ()),
                    ("b", "2026-10", "declined", "2026-10-16", ()))
    st = listing(dec, households(["a", "b"]))
    assert st.loc["a", "listing_zh"] == "2026-10-15核实困难：跟踪回访，下次复核2027-04，不作为新对象走访"
    assert st.loc["a", "listing_en"] == ("Confirmed in need on 2026-10-15: in follow-up, next "
                                         "review 2027-04; not visited as new")
    assert st.loc["b", "listing_zh"].startswith("2026-10-16走访被拒绝（已重试0次")


def test_reasons_name_the_decision_date_and_until_when():
    dec = decisions(("a", "2026-10", "not_in_need", "2026-10-12", ()),
                    ("b", "2026-10", "confirmed", "2026-10-15", ("dibao", "medical")),
                    ("c", "2026-10", "unreachable", "2026-10-03", ()),
                    ("d", "2026-10", "pending", None, ()))
    st = listing(dec, households(list("abcde")))
    assert st.loc["a", "listing_en"] == ("Found not in need on 2026-10-12: not listed before "
                                         "2027-04 unless an early warning or a band rise says "
                                         "it changed")
    assert st.loc["a", "listing_zh"].startswith("2026-10-12核实不符合救助条件：2027-04前不再列入")
    assert st.loc["b", "listing_en"] == ("Confirmed in need on 2026-10-15, assisted (dibao,medical): in "
                                         "follow-up, next review 2027-04; not visited as new")
    assert st.loc["c", "listing_en"] == "Unreachable on 2026-10-03 (retried 0 of 2 times): listed again"
    assert st.loc["d", "listing_en"].startswith("Visit allocated in 2026-10 still pending")
    assert list(st["last_outcome"].fillna("-")) == ["not_in_need", "confirmed", "unreachable",
                                                    "pending", "-"]
    assert list(st["last_decision_date"].fillna("-")) == ["2026-10-12", "2026-10-15",
                                                          "2026-10-03", "-", "-"]


def test_granted_programmes_are_remembered_and_retry_priority_pinned():
    dec = decisions(("a", "2026-06", "confirmed", "2026-06-02", ("dibao",)),
                    ("a", "2026-10", "confirmed", "2026-10-02", ()),
                    ("c", "2026-10", "declined", "2026-10-03", ()))
    out = carry_forward(dec, as_of=AS_OF, households=households(["a", "c"]),
                        rules=CarryRules(retry_priority="pinned"), codes=CODES)
    assert out.granted.loc["a"].tolist() == [True, False]
    assert not out.granted.loc["c"].any()
    assert out.status.loc["c", ["listing", "pinned", "candidate"]].tolist() == ["retry", True, False]


def test_no_previous_month_means_no_change_signal():
    dec = decisions(("h", "2026-10", "not_in_need", "2026-10-12", ()))
    st = listing(dec, pd.DataFrame({"band": ["high"]}, index=["h"]))
    assert st.loc["h", "listing"] == "suppressed_not_in_need"


def test_latest_decision_is_by_month_then_update_time():
    dec = decisions(("h", "2026-10", "unreachable", "2026-10-01", ()),
                    ("h", "2026-09", "not_in_need", "2026-09-01", ()))
    dec.loc[2] = ["h", "2026-10", "confirmed", "2026-10-09", ["dibao"],
                  pd.Timestamp("2026-10-30", tz="UTC")]
    last = latest_decisions(dec, as_of=AS_OF)
    assert last.loc["h", "outcome"] == "confirmed"


def test_pin_keeps_pinned_within_street_visits_and_places():
    ids = pd.Index(["p1", "p2", "p3", "q1"])
    prob = pd.Series([0.9, 0.8, 0.7, 0.6], index=ids)
    street = pd.Series(["S1", "S1", "S1", "S2"], index=ids)
    ref = pd.DataFrame({"dibao": [True, True, False, True], "medical": [True, False, True, True]},
                       index=ids)
    caps = Capacities(streets={"S1": StreetCapacity(2, floor=1), "S2": StreetCapacity(3, floor=2)},
                      programmes={"dibao": ProgrammeCapacity(places=1),
                                  "medical": ProgrammeCapacity(budget=100, cost=10)})
    out = pin(pinned=pd.Index(["p1", "p2", "p3", "q1"]), probability=prob, street=street,
              referable=ref, capacities=caps)
    assert sorted(out.visit.index) == ["p1", "p2", "q1"]      # S1 has 2 visits: p3 waits
    assert out.offers.loc["p1"].tolist() == [True, False]      # its first referable programme
    assert out.offers.loc["p2"].tolist() == [False, False]     # dibao's one place is taken
    left = out.capacities
    assert left.streets["S1"] == StreetCapacity(0, 0) and left.streets["S2"] == StreetCapacity(2, 1)
    assert left.places("dibao") == 0 and left.places("medical") == 10


def test_contested_reads_as_pending_contest_and_keeps_grants():
    dec = decisions(("a", "2026-10", "confirmed", "2026-10-15", ("dibao",)),
                    ("a", "2026-10", "contested", None, ()))
    carry = carry_forward(dec, as_of=AS_OF, households=households(["a"]), rules=RULES,
                          codes=CODES)
    st = carry.status
    assert st.loc["a", "listing_zh"] == "申诉处理中：经理裁决前不因申诉事项再次列入"
    assert st.loc["a", "listing_en"] == ("Contest pending: not listed again on the contested "
                                         "grounds until a manager decides it")
    assert st.loc["a", "last_outcome"] == "contested"
    assert bool(carry.granted.loc["a", "dibao"])  # granted programmes still never offered again
