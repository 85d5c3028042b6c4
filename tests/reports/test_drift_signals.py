"""Drift that catches what matters: a jump in missing share and a mean shift under a stable PSI
are flagged; the score is never compared with its own month; the reference reads in words."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from assist.errors import InputError
from assist.features import CATALOG
from assist.reports.report import drift_between, drift_html, drift_report

AS_OF, PREVIOUS = "2026-10", "2026-09"
MISSING, TAILED = CATALOG.ids[0], CATALOG.ids[1]


def _months(tmp_path, doctor=None, scores=(PREVIOUS, AS_OF)):
    """Features of 200 households in two months (the same values); ``doctor`` edits the
    current month; scores (probabilities) of the months in ``scores``."""
    rng = np.random.default_rng(1)
    base = pd.DataFrame(rng.random((200, len(CATALOG.ids))), columns=CATALOG.ids)
    for month in (PREVIOUS, AS_OF):
        frame = doctor(base.copy()) if doctor and month == AS_OF else base
        (tmp_path / "features" / month).mkdir(parents=True)
        frame.to_parquet(tmp_path / "features" / month / "features.parquet")
        if month in scores:
            (tmp_path / "scores" / month).mkdir(parents=True)
            frame.assign(probability=frame[CATALOG.ids[2]]).to_parquet(
                tmp_path / "scores" / month / "scores.parquet")
    (tmp_path / "scores").mkdir(exist_ok=True)
    return dict(features_dir=tmp_path / "features", scores_dir=tmp_path / "scores")


def _row(html: str, name: str) -> str:
    return next(r for r in re.findall(r"<tr>.*?</tr>", html, flags=re.S) if name in r)


def _blank_20_rows(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[:19, MISSING] = np.nan  # 0 % -> 10 % missing
    return frame


def test_a_doctored_month_with_a_jump_in_missing_share_is_flagged(tmp_path):
    rep = drift_report(as_of=AS_OF, **_months(tmp_path, _blank_20_rows))
    row = next(r for r in rep["features"] if r["feature"] == MISSING)
    assert row["missing_change"] == pytest.approx(0.10)
    assert row["missing_level"] == "act" and row["verdict"] == "act"
    assert MISSING in rep["flagged"]["act"]
    zh, en = drift_html(rep).split('id="en"')
    assert "⚠" in _row(zh, CATALOG[MISSING].name_zh) and "+10.0 个百分点" in zh
    assert "0.0% → 10.0%" in en and "+10.0 percentage points" in en


def test_missing_share_rise_under_a_stable_psi_is_flagged():
    ref = pd.DataFrame({i: np.r_[np.arange(80.0), [np.nan] * 20] for i in CATALOG.ids})
    cur = ref.copy()
    cur.loc[74:79, MISSING] = np.nan  # 20 % -> 26 % missing: PSI about 0.02
    row = drift_between(ref, cur, as_of=AS_OF, reference=PREVIOUS)["features"][0]
    assert row["feature"] == MISSING and row["level"] == "stable" and row["psi"] < 0.1
    assert row["missing_level"] == row["verdict"] == "act"


def test_a_mean_shift_with_a_stable_psi_is_flagged():
    # nine in ten values 0..9, the tail at 100 falls to 50 (still the top bin): PSI 0, the
    # mean falls by 5, i.e. about one IQR (financial assets: mean 541 -> 381, PSI stable)
    ref = pd.DataFrame({i: np.r_[np.repeat(np.arange(10.0), 9), [100.0] * 10]
                        for i in CATALOG.ids})
    cur = ref.copy()
    cur.loc[90:, TAILED] = 50.0
    rows = {r["feature"]: r for r in
            drift_between(ref, cur, as_of=AS_OF, reference=PREVIOUS, bins=10)["features"]}
    row = rows[TAILED]
    assert row["psi"] == pytest.approx(0.0) and row["level"] == "stable"
    assert row["current_mean"] - row["reference_mean"] == pytest.approx(-5.0)
    assert row["shift"] < -0.25 and row["shift_level"] == "act" and row["verdict"] == "act"
    assert rows[MISSING]["verdict"] == "stable"


def test_the_score_is_never_compared_with_itself(tmp_path):
    kw = _months(tmp_path, scores=(AS_OF,))
    with pytest.raises(InputError, match="itself"):
        drift_report(as_of=AS_OF, reference=AS_OF, **kw)
    rep = drift_report(as_of=AS_OF, **kw)  # no score of the reference month: skipped, said so
    assert rep["reference"] == PREVIOUS and not rep["features"][0]["feature"].startswith("score")
    assert rep["notes"] == ["score_not_compared"]
    assert "未比较评分" in drift_html(rep)


def test_the_score_against_training_data_and_last_month(tmp_path):
    kw = _months(tmp_path)
    training = pd.DataFrame({"probability": np.linspace(0, 1, 50)})
    info = {"kind": "training", "model": "assist-need-model/1", "month": "2026-08"}
    rep = drift_report(as_of=AS_OF, score_reference=(training, info), **kw)
    score = rep["features"][0]
    assert score["feature"].startswith("score") and score["psi"] > 0
    assert score["previous_month"] == PREVIOUS and score["previous_psi"] == pytest.approx(0.0)
    assert rep["score_reference"] == info
    zh, en = drift_html(rep).split('id="en"')
    assert "模型 assist-need-model/1 的训练数据（2026-08）" in zh and "上月（2026-09）" in zh
    assert "training data of model assist-need-model/1 (2026-08)" in en


def test_an_old_report_names_its_training_reference_in_words(tmp_path):
    rep = drift_report(as_of=AS_OF, **_months(tmp_path))
    rep.pop("reference_info")
    rep["reference"] = "training data of assist-need-model/1 (2026-09)"
    zh = drift_html(rep).split('id="en"')[0]
    assert "模型 assist-need-model/1 的训练数据（2026-09）" in zh
