"""Examples for the need model, as :mod:`assist.pipelines.dataset` builds them: one feature
month's (:class:`MonthData`) and a whole run's (:class:`Dataset`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from assist.features.catalog import Catalog


@dataclass(frozen=True, eq=False)
class MonthData:
    """Examples of one feature month (or of a whole table without months)."""

    month: str
    #: month whose visits gave the labels (None: labels in the same row, as in a flat table)
    label_month: str | None
    X: pd.DataFrame  # noqa: N815 - scikit-learn convention
    #: 1 / 0 verified outcome, NaN when unlabelled; aligned with X
    y: pd.Series
    #: group attributes for per-group metrics; aligned with X
    groups: pd.DataFrame
    #: hidden true need (1 / 0, NaN unknown) of simulated data; None when not known
    truth: pd.Series | None = None
    #: whether X holds every household of the month (else only the labelled ones)
    complete: bool = True
    #: rows labelled by the case store (boolean, aligned with X); None without extra labels
    casebook: pd.Series | None = None

    @property
    def labelled(self) -> np.ndarray:
        """Boolean mask of labelled rows."""
        return self.y.notna().to_numpy()

    def subset(self, mask: np.ndarray) -> MonthData:
        """The rows where ``mask`` holds (no longer complete unless all rows are kept)."""
        mask = np.asarray(mask, dtype=bool)
        return replace(self, X=self.X.loc[mask], y=self.y.loc[mask], groups=self.groups.loc[mask],
                       truth=None if self.truth is None else self.truth.loc[mask],
                       casebook=None if self.casebook is None else self.casebook.loc[mask],
                       complete=self.complete and bool(mask.all()))

    @property
    def from_casebook(self) -> np.ndarray:
        """Boolean mask of rows labelled by the case store."""
        if self.casebook is None:
            return np.zeros(len(self.y), dtype=bool)
        return self.casebook.to_numpy(dtype=bool)


@dataclass(frozen=True, eq=False)
class Dataset:
    """All examples of a run, month by month, with where they came from."""

    source: str
    #: months have a time order (temporal validation is possible)
    temporal: bool
    months: tuple[MonthData, ...]
    catalog: Catalog
    snapshots: tuple[str, ...]
    #: data snapshot id: sha256 of the store manifest, or of the table file
    fingerprint: str
    notes: tuple[str, ...] = ()
    truth_source: str | None = None
    #: labelled rows of the store's last month, labelled by the case store only (its next
    #: month is not in the store): the final model trains on them, no fold tests on them
    casebook_only: tuple[MonthData, ...] = ()
    #: case-store label counts (:mod:`assist.pipelines.casebook_labels`); None without any
    casebook: dict[str, Any] | None = None

    def month(self, name: str) -> MonthData:
        """The examples of feature month ``name``."""
        for m in self.months:
            if m.month == name:
                return m
        raise KeyError(name)

    def label_counts(self) -> dict[str, dict[str, int]]:
        """Per feature month: households, labelled examples, positives and case-store labels
        (training-only months included)."""
        return {m.month: {"households": int(len(m.X)) if m.complete else -1,
                          "labelled": int(m.y.notna().sum()),
                          "positives": int((m.y == 1).sum()),
                          "casebook": int(m.from_casebook.sum())}
                for m in (*self.months, *self.casebook_only)}
