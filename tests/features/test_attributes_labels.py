"""Household attributes (groups, jurisdiction) and verified-outcome labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assist.features.attributes import age_band, household_attributes
from assist.features.labels import verified_labels

from .conftest import hid, tables
from .test_indicators import scenario


def test_attributes_of_scenario():
    a = household_attributes(scenario(), "2026-10")
    assert a.loc[hid(1), "head_age_band"] == "75+"
    assert a.loc[hid(2), "head_age_band"] == "30-44"
    assert a.loc[hid(2), "head_sex"] == "M"
    assert a.loc[hid(1), "street_code"] == "S01"
    assert list(a["size"]) == [1.0, 4.0]
    assert list(a["has_disability"]) == [False, True]


def test_age_band_edges():
    assert list(age_band([29, 30, 44.9, 45, 60, 74, 75, 101])) == [
        "<30", "30-44", "30-44", "45-59", "60-74", "60-74", "75+", "75+"]


def _visit(vid, h, date, outcome, trigger="referral"):
    d = pd.Timestamp(date)
    return {"verification_id": vid, "household_id": hid(h), "visit_date": d, "trigger": trigger,
            "outcome": outcome, "snapshot": d.strftime("%Y-%m")}


def test_latest_informative_outcome_is_the_label():
    t = scenario()
    t["households"] = pd.concat([t["households"], tables(households=[
        {"household_id": hid(3), "street_code": "S02", "community_code": "S02C001",
         "registration_type": "local", "address_class": "commodity"}])["households"]])
    t["verifications"] = tables(verifications=[
        _visit("V0001", 1, "2026-02-01", "not_in_need"),
        _visit("V0002", 1, "2026-07-01", "confirmed"),
        _visit("V0003", 1, "2026-09-01", "unreachable"),   # says nothing about need
        _visit("V0004", 2, "2026-06-01", "not_in_need"),
        _visit("V0005", 3, "2026-11-02", "confirmed"),     # after as-of: not yet known
    ])["verifications"]
    y = verified_labels(t, "2026-10")
    assert y.loc[hid(1)] == 1.0
    assert y.loc[hid(2)] == 0.0
    assert np.isnan(y.loc[hid(3)])
