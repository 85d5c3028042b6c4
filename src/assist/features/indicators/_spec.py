"""The ``@indicator`` decorator: an indicator's catalog entry is declared on its function.

The function is the compute function, its name is the indicator id (the column it returns)
and its docstring the one-line description. Weights are assigned when the catalog is
assembled (dimensions weigh equally, indicators equally within a dimension).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from assist.features.catalog import NOT_DEPRIVED_IF_MISSING, MissingRule
from assist.features.view import SourceView
from assist.features.wording import Phrases

Builder = Callable[[SourceView], np.ndarray]


@dataclass(frozen=True)
class IndicatorSpec:
    """Everything about an indicator except its weight and dimension (set by the module)."""

    name_zh: str
    name_en: str
    unit: str
    direction: Literal[1, -1]
    cutoff: float
    cause: str
    sources: tuple[str, ...]
    sentence_en: str
    sentence_zh: str
    missing: MissingRule = NOT_DEPRIVED_IF_MISSING
    phrases: Phrases | None = None


def indicator(**fields: object) -> Callable[[Builder], Builder]:
    """Attach an :class:`IndicatorSpec` to a compute function."""
    spec = IndicatorSpec(**fields)  # type: ignore[arg-type]

    def mark(fn: Builder) -> Builder:
        fn.__indicator__ = spec  # type: ignore[attr-defined]
        return fn

    return mark
