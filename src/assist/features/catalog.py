"""Types of the indicator catalog: one entry per indicator, declared once.

The built-in catalog (22 indicators in 7 dimensions, :mod:`assist.features.indicators`) and a
catalog a district declares in YAML for its own flat household table
(:mod:`assist.features.custom`) are both a :class:`Catalog` of :class:`Indicator` entries,
grouped in :class:`Dimension` entries that name each dimension in Chinese and English.
Everything downstream — feature matrix, monotone constraints, deprivation index, explanation
labels, report labels, the README table — reads this structure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from assist.errors import ConfigError
from assist.features.bilingual import Label
from assist.features.wording import Phrases

WEIGHT_TOLERANCE = 1e-6

#: tables by name (as produced by ingest)
Tables = Mapping[str, pd.DataFrame]
#: a built-in indicator's compute function: an as-of view of the sources -> one value per
#: household (see :class:`assist.features.view.SourceView`)
Compute = Callable[[Any], pd.Series]


@dataclass(frozen=True)
class MissingRule:
    """What to do when an indicator cannot be computed for a household.

    ``fill``: use ``value`` as the indicator value. ``deprived`` / ``not_deprived``: keep the
    value missing (the need model handles missing values natively) and count the household as
    deprived / not deprived on this indicator in the deprivation index.
    """

    strategy: Literal["fill", "deprived", "not_deprived"]
    reason: str
    value: float | None = None

    def __post_init__(self) -> None:
        if (self.strategy == "fill") != (self.value is not None):
            raise ConfigError("a 'fill' missing rule needs a value, and only it takes one")


NOT_DEPRIVED_IF_MISSING = MissingRule("not_deprived", "no record: not counted as deprived")


@dataclass(frozen=True)
class Dimension:
    """A dimension of hardship: its id (what indicators name), its names, and its place."""

    id: str
    name_zh: str
    name_en: str
    #: position in the catalog: dimensions are listed by ascending ``order``
    order: int

    @property
    def label(self) -> Label:
        """The dimension's names."""
        return Label(zh=self.name_zh, en=self.name_en)


@dataclass(frozen=True)
class Indicator:
    """One indicator of household hardship."""

    id: str
    name_zh: str
    name_en: str
    dimension: str
    unit: str
    #: +1: a higher value means more hardship (deprived when value > cutoff);
    #: -1: a lower value means more hardship (deprived when value < cutoff)
    direction: Literal[1, -1]
    cutoff: float
    #: share of the whole index; all weights of a catalog sum to 1
    weight: float
    description: str
    #: distress-cause code (see :data:`assist.features.codes.CAUSES`); optional for foreign data
    cause: str | None = None
    sources: tuple[str, ...] = ()
    missing: MissingRule = NOT_DEPRIVED_IF_MISSING
    #: built-in indicators: how to compute the value from the source tables
    compute: Compute | None = field(default=None, repr=False, compare=False)
    #: flat-table indicators: the column to read, or a pandas ``eval`` expression
    column: str | None = None
    expr: str | None = None
    #: plain-words sentence about a household's value, ``{value}`` formatted (explanations)
    sentence_en: str | None = None
    sentence_zh: str | None = None
    #: the sentences for no value, zero and a capped ratio (:class:`~assist.features.wording.
    #: Phrases`), where the template would read wrong
    phrases: Phrases | None = None

    def sentence(self, value: float, lang: Literal["en", "zh"] = "en") -> str:
        """This indicator's value for one household in plain words."""
        template = self.sentence_zh if lang == "zh" else self.sentence_en
        name = self.name_zh if lang == "zh" else self.name_en
        special = self.phrases.special(value, lang) if self.phrases is not None else None
        if special is not None:
            return special
        if value is None or (isinstance(value, float) and np.isnan(value)):
            return f"{name}：无记录" if lang == "zh" else f"{name}: no record"
        if template is None:
            return f"{name}：{value:.3g}" if lang == "zh" else f"{name}: {value:.3g}"
        return template.format(value=value)

    def deprived(self, values: pd.Series) -> pd.Series:
        """Boolean deprivation of each household on this indicator (strict inequality)."""
        v = pd.to_numeric(values, errors="coerce").astype(float)
        hit = v > self.cutoff if self.direction == 1 else v < self.cutoff
        missing = v.isna()
        if missing.any():
            if self.missing.strategy == "fill":
                filled = pd.Series(self.missing.value, index=v.index, dtype=float)
                fill_hit = filled > self.cutoff if self.direction == 1 else filled < self.cutoff
                hit = hit.where(~missing, fill_hit)
            else:
                hit = hit.where(~missing, self.missing.strategy == "deprived")
        return hit.astype(bool)

    def fill_missing(self, values: pd.Series) -> pd.Series:
        """Apply the ``fill`` missing rule (other rules keep NaN for the model)."""
        if self.missing.strategy == "fill":
            return values.fillna(self.missing.value)
        return values


@dataclass(frozen=True)
class Catalog:
    """An ordered, validated set of indicators, grouped in named dimensions.

    ``dimension_entries`` declares the dimensions; every indicator's ``dimension`` must be one
    of them and every one must hold an indicator. Left empty, each dimension the indicators
    name is its own name (Chinese and English), in order of first appearance.
    """

    name: str
    version: str
    indicators: tuple[Indicator, ...]
    #: the dimensions, stored sorted by ``order`` (derived from the indicators when empty)
    dimension_entries: tuple[Dimension, ...] = ()

    def __post_init__(self) -> None:
        entries = tuple(self.dimension_entries) or tuple(
            Dimension(d, d, d, n) for n, d in
            enumerate(dict.fromkeys(i.dimension for i in self.indicators), start=1))
        object.__setattr__(self, "dimension_entries",
                           tuple(sorted(entries, key=lambda d: d.order)))
        self.validate()

    def __iter__(self) -> Iterator[Indicator]:
        return iter(self.indicators)

    def __len__(self) -> int:
        return len(self.indicators)

    def __getitem__(self, indicator_id: str) -> Indicator:
        for ind in self.indicators:
            if ind.id == indicator_id:
                return ind
        raise KeyError(f"catalog {self.name!r} has no indicator {indicator_id!r}")

    @property
    def ids(self) -> list[str]:
        """Indicator ids in catalog order (the feature-matrix column order)."""
        return [i.id for i in self.indicators]

    @property
    def dimensions(self) -> list[str]:
        """Dimension ids in catalog order."""
        return [d.id for d in self.dimension_entries]

    def dimension(self, dimension_id: str) -> Dimension:
        """The entry (names, order) of a dimension; :class:`KeyError` when it has none."""
        for d in self.dimension_entries:
            if d.id == dimension_id:
                return d
        raise KeyError(f"catalog {self.name!r} has no dimension {dimension_id!r}")

    @property
    def weights(self) -> pd.Series:
        """Indicator weights indexed by id."""
        return pd.Series({i.id: i.weight for i in self.indicators}, dtype=float)

    @property
    def monotone_constraints(self) -> list[int]:
        """LightGBM monotone constraints in feature order, from each indicator's direction."""
        return [int(i.direction) for i in self.indicators]

    def deprivation(self, values: pd.DataFrame) -> pd.DataFrame:
        """Boolean deprivation matrix: one column per indicator, one row per household."""
        return pd.DataFrame({i.id: i.deprived(values[i.id]) for i in self.indicators},
                            index=values.index)

    def by_dimension(self) -> dict[str, list[Indicator]]:
        """Indicators grouped by dimension, dimensions and indicators in catalog order."""
        out: dict[str, list[Indicator]] = {d: [] for d in self.dimensions}
        for ind in self.indicators:
            out[ind.dimension].append(ind)
        return out

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the indicator and field at fault."""
        seen: set[str] = set()
        for ind in self.indicators:
            where = f"catalog {self.name!r}, indicator {ind.id!r}"
            if ind.id in seen:
                raise ConfigError(f"{where}: field 'id' is a duplicate")
            seen.add(ind.id)
            if ind.direction not in (1, -1):
                raise ConfigError(f"{where}: field 'direction' must be 1 or -1, got {ind.direction!r}")
            if not np.isfinite(ind.cutoff):
                raise ConfigError(f"{where}: field 'cutoff' must be a finite number")
            if not (0 <= ind.weight <= 1):
                raise ConfigError(f"{where}: field 'weight' must lie between 0 and 1")
        self._validate_dimensions()
        total = sum(i.weight for i in self.indicators)
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise ConfigError(
                f"catalog {self.name!r}: field 'weight' of all indicators sums to {total:.6f}, "
                "not 1 (tolerance 1e-6)"
            )


    def _validate_dimensions(self) -> None:
        """Dimension ids and orders unique; indicators in declared dimensions; none empty."""
        known: dict[str, Dimension] = {}
        orders: dict[int, str] = {}
        for d in self.dimension_entries:
            where = f"catalog {self.name!r}, dimension {d.id!r}"
            if d.id in known:
                raise ConfigError(f"{where}: field 'id' is a duplicate")
            if d.order in orders:
                raise ConfigError(f"{where}: field 'order' {d.order} is also dimension "
                                  f"{orders[d.order]!r}'s")
            known[d.id], orders[d.order] = d, d.id
        for ind in self.indicators:
            if ind.dimension not in known:
                raise ConfigError(
                    f"catalog {self.name!r}, indicator {ind.id!r}: field 'dimension' "
                    f"{ind.dimension!r} is not a declared dimension (declared: "
                    f"{', '.join(known)})")
        empty = [d for d in known if d not in {i.dimension for i in self.indicators}]
        if empty:
            raise ConfigError(f"catalog {self.name!r}, dimension {empty[0]!r}: declared, but no "
                              "indicator belongs to it")


def equal_weights(dimensions: Mapping[str, int]) -> dict[str, float]:
    """Weight of one indicator per dimension when dimensions weigh equally, and indicators
    equally within their dimension."""
    n = len(dimensions)
    return {d: 1.0 / n / k for d, k in dimensions.items()}
