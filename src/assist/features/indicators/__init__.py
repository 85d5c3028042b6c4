"""The built-in indicator catalog: 22 indicators in 7 dimensions, declared once.

Each dimension is a module declaring its :class:`~assist.features.catalog.Dimension` entry
(``DIMENSION``: id, Chinese and English name, order); each indicator is a function there,
decorated with its catalog entry (:func:`assist.features.indicators._spec.indicator`). This
package assembles them, in dimension order and definition order, into :data:`CATALOG` with
equal weights per dimension and equal weights within a dimension. Dimension names are read
from the catalog (:meth:`~assist.features.catalog.Catalog.dimension`), never from here.
"""

from __future__ import annotations

from types import ModuleType

from assist.features.catalog import Catalog, Indicator, equal_weights
from assist.features.indicators import care, education, employment, health, housing, income, living

MODULES: tuple[ModuleType, ...] = (income, living, housing, health, employment, education, care)
CATALOG_VERSION = "2026.11.1"


def builders(module: ModuleType) -> list:
    """Public functions of a dimension module, in definition order."""
    return [obj for name, obj in vars(module).items()
            if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", None) == module.__name__]


def assemble() -> Catalog:
    """Build the catalog from the dimension modules."""
    modules = sorted(MODULES, key=lambda m: m.DIMENSION.order)
    per_dim = {m.DIMENSION.id: builders(m) for m in modules}
    weights = equal_weights({d: len(fns) for d, fns in per_dim.items()})
    entries = []
    for dim, fns in per_dim.items():
        for fn in fns:
            spec = fn.__indicator__
            entries.append(Indicator(
                id=fn.__name__, name_zh=spec.name_zh, name_en=spec.name_en, dimension=dim,
                unit=spec.unit, direction=spec.direction, cutoff=spec.cutoff,
                weight=weights[dim], description=(fn.__doc__ or "").strip(), cause=spec.cause,
                sources=spec.sources, missing=spec.missing, compute=fn,
                sentence_en=spec.sentence_en, sentence_zh=spec.sentence_zh, phrases=spec.phrases,
            ))
    return Catalog(name="builtin", version=CATALOG_VERSION, indicators=tuple(entries),
                   dimension_entries=tuple(m.DIMENSION for m in modules))


CATALOG: Catalog = assemble()
