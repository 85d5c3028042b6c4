"""Early warning: what changed for a household since last month, combined across dimensions.

Two kinds of flag, each named so a caseworker sees what changed:

- score flags: the probability rose past a band boundary (by at least ``min_rise``, so noise
  around a cut point does not flag) or by more than ``jump``;
- event flags (:data:`EVENTS`): a new hospital stay, a job loss, a sharp income drop, water
  silence of an elderly person living alone. An event fires only together with a second
  signal — a deprivation in another dimension or a score rise of at least ``min_rise`` —
  because single-dimension triggers are what critics of early warning found wanting.

Everything is array arithmetic over the households present in both months; households new
this month have no previous values and are not flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assist.features.catalog import Catalog
from assist.features.indicators import CATALOG

BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class WarningConfig:
    """Thresholds of the early-warning flags."""

    #: probability rise that flags on its own
    jump: float = 0.15
    #: smallest probability rise that counts as a rise (band crossings, confirming events)
    min_rise: float = 0.02
    #: income_drop_12m at or above this is a sharp drop
    income_drop: float = 0.3
    #: days without water use (lone elderly) that count as silence
    water_silent_days: float = 5.0


def need_band(probability: np.ndarray | pd.Series, cuts: Mapping[str, float]) -> np.ndarray:
    """``high`` / ``medium`` / ``low`` from the cut points (probability >= cut)."""
    p = np.asarray(probability, dtype=float)
    if not 0 < cuts["medium"] < cuts["high"] <= 1:
        raise ValueError("band cut points need 0 < medium < high <= 1")
    return np.where(p >= cuts["high"], "high", np.where(p >= cuts["medium"], "medium", "low"))


@dataclass(frozen=True)
class Event:
    """A trigger event: its dimension and how to detect it from two months of indicators."""

    name: str
    dimension: str
    text_en: str
    text_zh: str
    detect: Callable[[pd.DataFrame, pd.DataFrame, WarningConfig], np.ndarray]


def _col(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(dtype=float, na_value=np.nan)


def _rose(cur: pd.DataFrame, prev: pd.DataFrame, name: str) -> np.ndarray:
    return np.nan_to_num(_col(cur, name)) > np.nan_to_num(_col(prev, name))


def _job_loss(cur: pd.DataFrame, prev: pd.DataFrame, cfg: WarningConfig) -> np.ndarray:
    earner = (np.nan_to_num(_col(cur, "earner_months_out_of_work")) > 0) & \
        (np.nan_to_num(_col(prev, "earner_months_out_of_work")) == 0)
    return earner | _rose(cur, prev, "unemployed_share")


def _income_drop(cur: pd.DataFrame, prev: pd.DataFrame, cfg: WarningConfig) -> np.ndarray:
    return (np.nan_to_num(_col(cur, "income_drop_12m")) >= cfg.income_drop) & \
        (np.nan_to_num(_col(prev, "income_drop_12m")) < cfg.income_drop)


def _water_silence(cur: pd.DataFrame, prev: pd.DataFrame, cfg: WarningConfig) -> np.ndarray:
    alone = np.nan_to_num(_col(cur, "elderly_living_alone")) >= 1
    return alone & (np.nan_to_num(_col(cur, "water_silent_days")) >= cfg.water_silent_days) & \
        (np.nan_to_num(_col(prev, "water_silent_days")) < cfg.water_silent_days)


EVENTS: tuple[Event, ...] = (
    Event("new_hospital_stay", "health", "new hospital stay", "新增住院",
          lambda c, p, cfg: _rose(c, p, "hospital_stays_12m")),
    Event("job_loss", "employment", "job loss", "新近失业", _job_loss),
    Event("income_drop", "income", "sharp income drop", "收入骤降", _income_drop),
    Event("water_silence", "living", "no water use by an elderly person living alone",
          "独居老人用水异常", _water_silence),
)
SCORE_FLAGS = {"band_up": ("need band rose", "需求等级上升"),
               "score_jump": ("probability jumped", "需求概率大幅上升")}
FLAGS: tuple[str, ...] = (*SCORE_FLAGS, *(e.name for e in EVENTS))


def early_warning(*, current: pd.DataFrame, previous: pd.DataFrame, config: WarningConfig,
                  catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Flags per household of ``current`` (columns ``probability``, ``band`` and indicators).

    Returns one row per current household: a bool column per flag, ``warning`` (any flag),
    ``flags`` (names, ``;``-separated), ``changes_en`` / ``changes_zh`` (what changed, in
    words), ``probability_change`` and ``previous_band``.
    """
    idx = current.index
    prev = previous.reindex(idx)
    known = prev["probability"].notna().to_numpy()
    p_now = current["probability"].to_numpy(dtype=float)
    p_before = prev["probability"].to_numpy(dtype=float, na_value=np.nan)
    rise = np.where(known, p_now - np.nan_to_num(p_before), 0.0)
    rank = {b: i for i, b in enumerate(BANDS)}
    band_now = current["band"].astype(str).map(rank).to_numpy(dtype=float)
    band_before = prev["band"].astype("string").map(rank).to_numpy(dtype=float, na_value=np.nan)
    rising = rise >= config.min_rise
    flags = {"band_up": known & (band_now > np.nan_to_num(band_before, nan=np.inf)) & rising,
             "score_jump": known & (rise > config.jump)}
    deprived = catalog.deprivation(current[catalog.ids]).to_numpy(dtype=bool)
    dims = np.array([i.dimension for i in catalog])
    for e in EVENTS:
        other = deprived[:, dims != e.dimension].any(axis=1)
        flags[e.name] = known & e.detect(current, prev, config) & (other | rising)
    out = pd.DataFrame(flags, index=idx)
    out["warning"] = out[list(FLAGS)].any(axis=1)
    names = np.full(len(idx), "", dtype=object)
    en, zh = names.copy(), names.copy()
    before = prev["band"].astype("string").fillna("").to_numpy(dtype=object)
    now = current["band"].astype(str).to_numpy(dtype=object)
    for f in FLAGS:
        hit = out[f].to_numpy()
        if not hit.any():
            continue
        names[hit] += f + ";"
        if f == "band_up":
            en[hit] += "need band rose from " + before[hit] + " to " + now[hit] + "; "
            zh[hit] += "需求等级由" + before[hit] + "升至" + now[hit] + "；"
        elif f == "score_jump":
            pts = np.char.mod("%+.0f", 100 * rise[hit]).astype(object)
            en[hit] += "probability of need " + pts + " points; "
            zh[hit] += "需求概率上升" + pts + "个百分点；"
        else:
            e = next(x for x in EVENTS if x.name == f)
            en[hit] += e.text_en + "; "
            zh[hit] += e.text_zh + "；"
    out["flags"] = pd.Series(names, index=idx).str.rstrip(";").astype("string")
    out["changes_en"] = pd.Series(en, index=idx).str.rstrip("; ").astype("string")
    out["changes_zh"] = pd.Series(zh, index=idx).str.rstrip("；").astype("string")
    out["probability_change"] = np.where(known, rise, np.nan)
    out["previous_band"] = prev["band"].astype("string")
    return out


def counts(flags: pd.DataFrame) -> dict[str, int]:
    """Households per flag, and in total."""
    return {**{f: int(flags[f].sum()) for f in FLAGS}, "households": int(flags["warning"].sum())}
