"""Last month, for early warning: its scoring snapshot when there is one, else last month scored
afresh with the same model from the same single read of the store
(:func:`~assist.pipelines.featurize.load_for_months`), else nothing (no early warning).

Every engine decides alike (:func:`source`) and scores afresh per bucket with
:func:`previous_from_tables`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from assist.features import CATALOG, build
from assist.models.deprivation import alkire_foster
from assist.models.need import NeedModel
from assist.models.warning import need_band
from assist.pipelines.featurize import tables_as_of
from assist.pipelines.score_config import ScoringConfig

#: where last month comes from, in the summary's words
SOURCES = {
    "snapshot": "snapshot {folder}",
    "tables": "scored afresh from the store's {month} with the same model",
    "none": "no month {month} in the store or the scores: no early warning",
}


def previous_month(as_of: str) -> str:
    """The month before ``as_of``."""
    return str(pd.Period(as_of, freq="M") - 1)


def source(*, has_snapshot: bool, in_store: bool) -> str:
    """Where last month comes from: ``snapshot``, ``tables`` (scored afresh) or ``none``."""
    return "snapshot" if has_snapshot else "tables" if in_store else "none"


def describe(mode: str, *, month: str, folder: str | Path) -> str:
    """The summary's ``previous``: where last month came from."""
    return SOURCES[mode].format(month=month, folder=folder)


def previous_from_tables(*, tables: dict[str, pd.DataFrame], as_of: str, model: NeedModel,
                         config: ScoringConfig) -> pd.DataFrame:
    """Last month's indicators, probability, band and deprivation index, scored afresh from
    ``tables`` covering both months (any set of households: a district or one Spark bucket)."""
    prev = previous_month(as_of)
    values = build(tables_as_of(tables, prev), prev)
    raw = model.predict_raw(values[CATALOG.ids])
    af = alkire_foster(values[CATALOG.ids], CATALOG, k=config.deprivation_k)
    frame = values
    frame["probability"] = model.calibrate(raw)
    frame["band"] = need_band(frame["probability"], config.bands.model_dump())
    frame["deprivation_score"] = af.scores.to_numpy()
    frame["deprivation_poor"] = af.poor.to_numpy()
    return frame


@dataclass(frozen=True)
class Months:
    """The month's tables and last month's frame (None: no early warning) with its source."""

    tables: dict[str, pd.DataFrame]
    previous: pd.DataFrame | None
    previous_source: str
