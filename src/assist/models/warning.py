"""Early warning: what changed for a household since last month, combined across dimensions.

Flags are meant to be rare (about 1-3 % of households a month) and each one worth a look, so
every flag needs two signals, and every flag is named so a caseworker sees what changed:

- score flags: the calibrated probability rose into a higher band, clearing the new band's cut
  point by ``band_margin`` (hysteresis: a household hovering around a cut point does not flag
  each time it steps over it), or it jumped by more than ``jump`` points *and* by more than
  ``jump_relative`` times last month's probability. Either is only raised when the transparent
  deprivation index agrees: the household is Alkire-Foster poor now, or its deprivation score
  rose by at least ``confirm_deprivation_rise``. Measured on a simulated district, probability
  movements alone (with or without hysteresis or a persistence rule) were no better than the
  base rate at finding households in need; confirmed by the index they were.
- event flags (:data:`EVENTS`): a new hospital stay, a job loss, a sharp income drop, water
  silence of an elderly person living alone. An event fires only with a strong second signal:
  the household is Alkire-Foster poor, or it is deprived in at least ``event_other_dimensions``
  other dimensions while its probability is at least the medium band's cut point. (Deprived in
  *one* other dimension is true of most households, which is what made the earlier rule noisy.)

Everything is array arithmetic over the households present in both months; households new
this month have no previous values and are not flagged.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assist.features.bilingual import Label
from assist.features.catalog import Catalog
from assist.features.indicators import CATALOG

BANDS = ("low", "medium", "high")


@dataclass(frozen=True)
class WarningConfig:
    """Thresholds of the early-warning flags."""

    #: probability rise (absolute) of a score jump
    jump: float = 0.15
    #: ... which must also exceed this multiple of last month's probability (1.0: it doubled)
    jump_relative: float = 1.0
    #: a band rise must clear the new band's cut point by this much (hysteresis)
    band_margin: float = 0.05
    #: deprivation-score rise that confirms a score flag (Alkire-Foster poor confirms too)
    confirm_deprivation_rise: float = 0.1
    #: other dimensions deprived (with the probability at least medium) that confirm an event
    event_other_dimensions: int = 3
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
    """A trigger event: its dimension, its name in words, and how to detect it from two months
    of indicators."""

    name: str
    dimension: str
    text: Label
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
    Event("new_hospital_stay", "health", Label(zh="新增住院", en="new hospital stay"),
          lambda c, p, cfg: _rose(c, p, "hospital_stays_12m")),
    Event("job_loss", "employment", Label(zh="新近失业", en="job loss"), _job_loss),
    Event("income_drop", "income", Label(zh="收入骤降", en="sharp income drop"), _income_drop),
    Event("water_silence", "living",
          Label(zh="独居老人用水异常", en="no water use by an elderly person living alone"),
          _water_silence),
)
SCORE_FLAGS: dict[str, Label] = {"band_up": Label(zh="需求等级上升", en="need band rose"),
                                 "score_jump": Label(zh="需求概率大幅上升", en="probability jumped")}
FLAGS: tuple[str, ...] = (*SCORE_FLAGS, *(e.name for e in EVENTS))
#: every flag's name, in :data:`FLAGS` order
FLAG_LABELS: dict[str, Label] = {**SCORE_FLAGS, **{e.name: e.text for e in EVENTS}}


def early_warning(*, current: pd.DataFrame, previous: pd.DataFrame, config: WarningConfig,
                  cuts: Mapping[str, float], catalog: Catalog = CATALOG) -> pd.DataFrame:
    """Flags per household of ``current`` (see the module docstring for the rules).

    ``current`` holds ``probability``, ``band``, ``deprivation_score``, ``deprivation_poor`` and
    the indicators; ``previous`` the same for last month (``deprivation_score`` may be absent:
    then only poverty confirms). ``cuts`` are the band cut points. Returns one row per current
    household: a bool column per flag, ``warning`` (any flag), ``flags`` (names,
    ``;``-separated), ``changes_en`` / ``changes_zh`` (what changed, in words),
    ``probability_change`` and ``previous_band``.
    """
    idx = current.index
    prev = previous.reindex(idx)
    known = prev["probability"].notna().to_numpy()
    p_now = current["probability"].to_numpy(dtype=float)
    p_before = np.nan_to_num(prev["probability"].to_numpy(dtype=float, na_value=np.nan))
    rise = np.where(known, p_now - p_before, 0.0)
    need_band(p_now[:0], cuts)  # validates the cut points
    cut = np.array([cuts[b] for b in BANDS[1:]])
    clears = (p_now[:, None] >= cut + config.band_margin) & (p_before[:, None] < cut)
    score_now = current["deprivation_score"].to_numpy(dtype=float, na_value=np.nan)
    score_before = (prev["deprivation_score"].to_numpy(dtype=float, na_value=np.nan)
                    if "deprivation_score" in prev else np.full(len(idx), np.nan))
    poor = current["deprivation_poor"].fillna(False).to_numpy(dtype=bool)
    index_rose = np.nan_to_num(score_now - score_before, nan=0.0) >= config.confirm_deprivation_rise
    confirmed = known & (poor | index_rose)
    flags = {"band_up": confirmed & clears.any(axis=1),
             "score_jump": confirmed & (rise > config.jump) &
             (rise > config.jump_relative * p_before)}
    deprived = catalog.deprivation(current[catalog.ids]).to_numpy(dtype=bool)
    dims = np.array([i.dimension for i in catalog])
    names_of_dims = list(dict.fromkeys(dims))
    by_dim = np.stack([deprived[:, dims == d].any(axis=1) for d in names_of_dims], axis=1)
    medium = p_now >= cuts["medium"]
    others = {}
    for e in EVENTS:
        others[e.name] = by_dim[:, [d != e.dimension for d in names_of_dims]].sum(axis=1)
        strong = poor | ((others[e.name] >= config.event_other_dimensions) & medium)
        flags[e.name] = known & e.detect(current, prev, config) & strong
    out = pd.DataFrame(flags, index=idx)
    out["warning"] = out[list(FLAGS)].any(axis=1)
    en, zh = _words(out, current=current, prev=prev, rise=rise, poor=poor,
                    index_change=(score_before, score_now), others=others)
    out["flags"] = pd.Series(_joined(out), index=idx).str.rstrip(";").astype("string")
    out["changes_en"] = pd.Series(en, index=idx).str.rstrip("; ").astype("string")
    out["changes_zh"] = pd.Series(zh, index=idx).str.rstrip("；").astype("string")
    out["probability_change"] = np.where(known, rise, np.nan)
    out["previous_band"] = prev["band"].astype("string")
    return out


def _joined(out: pd.DataFrame) -> np.ndarray:
    names = np.full(len(out), "", dtype=object)
    for f in FLAGS:
        hit = out[f].to_numpy()
        if hit.any():
            names[hit] += f + ";"
    return names


BANDS_ZH = {"low": "低", "medium": "中", "high": "高"}


def _in_zh(bands: np.ndarray) -> np.ndarray:
    s = pd.Series(bands, dtype=object)
    return s.map(BANDS_ZH).fillna(s).to_numpy(dtype=object)


def _words(out: pd.DataFrame, *, current: pd.DataFrame, prev: pd.DataFrame, rise: np.ndarray,
           poor: np.ndarray, index_change: tuple[np.ndarray, np.ndarray],
           others: Mapping[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """What changed, in English and Chinese, for each flagged household."""
    en = np.full(len(out), "", dtype=object)
    zh = en.copy()
    before = prev["band"].astype("string").fillna("").to_numpy(dtype=object)
    now = current["band"].astype(str).to_numpy(dtype=object)
    for f in FLAGS:
        hit = out[f].to_numpy()
        if not hit.any():
            continue
        if f == "band_up":
            en[hit] += "need band rose from " + before[hit] + " to " + now[hit] + "; "
            zh[hit] += ("需求等级由" + _in_zh(before[hit]) + "升至" + _in_zh(now[hit]) + "；")
        elif f == "score_jump":
            pts = np.char.mod("%+.0f", 100 * rise[hit]).astype(object)
            en[hit] += "probability of need " + pts + " points; "
            zh[hit] += "需求概率上升" + pts + "个百分点；"
        else:
            e = next(x for x in EVENTS if x.name == f)
            n = np.char.mod("%d", others[f][hit]).astype(object)
            en[hit] += e.text.en + np.where(poor[hit], " (multidimensionally poor); ",
                                            " (deprived in " + n + " other dimensions); ")
            zh[hit] += e.text.zh + np.where(poor[hit], "（多维贫困）；", "（另有" + n + "个维度被剥夺）；")
    score = out["band_up"].to_numpy() | out["score_jump"].to_numpy()
    if score.any():
        b, a = (np.char.mod("%.2f", np.nan_to_num(x[score])).astype(object) for x in index_change)
        en[score] += "confirmed by the deprivation index (" + b + " -> " + a + \
            np.where(poor[score], ", multidimensionally poor", "") + "); "
        zh[score] += "多维剥夺指数印证（" + b + "→" + a + np.where(poor[score], "，多维贫困", "") + "）；"
    return en, zh


def counts(flags: pd.DataFrame) -> dict[str, int]:
    """Households per flag, and in total."""
    return {**{f: int(flags[f].sum()) for f in FLAGS}, "households": int(flags["warning"].sum())}
