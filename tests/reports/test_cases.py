"""The case-work reports (overrides, early warning) on hand-made frames: payload shapes and
hand-counted values, and their stored HTML (rendered as their pages render them)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from assist.reports.cases import (
    early_warning_html,
    early_warning_report,
    overrides_html,
    overrides_report,
)

AS_OF = "2026-10"


def test_overrides_report_shape_and_html():
    d = pd.DataFrame({"household_id": ["a", "b", "c", "d"], "street": ["S1", "S1", "S2", "S2"],
                      "band": ["high", "low", "high", "medium"], "score": [.9, .1, .8, .4],
                      "override": [True, True, False, False], "outcome": [0, 1, 1, np.nan],
                      "hukou": ["local", "non-local", "local", "non-local"]})
    rep = overrides_report(d, as_of=AS_OF, groups=["hukou"])
    assert (rep["decisions"], rep["overrides"], rep["verified"]) == (4, 2, 3)
    assert rep["slices"] == ["(all)", "street", "band", "hukou"]
    rows = {(r["slice"], r["value"]): r for r in rep["rows"]}
    assert rows[("(all)", "(all)")]["confirmed_rate_overridden"] == 0.5   # b of a, b
    assert rows[("(all)", "(all)")]["confirmed_rate_followed"] == 1.0     # c; d unverified
    assert rows[("hukou", "non-local")]["override_rate"] == 0.5
    assert rows[("band", "medium")]["confirmed_rate_followed"] is None    # undefined, not 0
    json.dumps(rep, allow_nan=False)
    html = overrides_html(rep)
    # rendered as the overrides page renders it: Chinese first, English after
    assert "<svg" in html and "By hukou" in html and "undefined" in html and "无法计算" in html
    empty = overrides_report(d.iloc[:0], as_of=None, groups=["hukou"])
    assert empty["decisions"] == 0 and empty["rows"] == []
    assert "No caseworker decision is recorded in the case store yet." in overrides_html(empty)


def test_early_warning_report_hand_counted():
    refs = pd.DataFrame({"street_code": ["S1", "S1", "S2", "S2", "S3"],
                         "flags": ["band_up;job_loss", "", "job_loss", None, "mystery"]},
                        index=["a", "b", "c", "d", "e"])
    rep = early_warning_report(refs, as_of=AS_OF, summary_flags={"job_loss": 2, "households": 3})
    assert rep["totals"] == {"band_up": 1, "score_jump": 0, "new_hospital_stay": 0,
                             "job_loss": 2, "income_drop": 0, "water_silence": 0, "other": 1,
                             "households": 3}
    by = {r["street_code"]: r for r in rep["streets"]}
    assert set(by) == {"S1", "S2", "S3"}
    assert (by["S1"]["households"], by["S1"]["band_up"], by["S2"]["job_loss"]) == (1, 1, 1)
    assert rep["scoring_counts"] == {"job_loss": 2, "households": 3}
    assert "<svg" in early_warning_html(rep)
