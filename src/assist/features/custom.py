"""A district's own catalog, declared in YAML, over its own flat household table.

A platform that exports one household table (CSV or Parquet, one row per household) declares
which columns — or pandas ``eval`` expressions over them — are indicators::

    name: my-district          # optional
    version: "1"               # optional
    dimensions:                # optional (see below)
      - id: income
        name_zh: 收入             # optional; falls back to name_en, then the id
        name_en: Income           # optional; falls back to name_zh, then the id
        order: 1                  # optional; default: position in this list
    indicators:
      - id: income_ratio          # unique, snake_case
        column: income_ratio      # or  expr: "income / members"
        dimension: income
        direction: -1             # -1: deprived when value < cutoff; +1: when value > cutoff
        cutoff: 1.0
        weight: 0.25              # share of the whole index; weights sum to 1
        cause: income_loss        # optional (see assist.features.codes.CAUSES)
        name_en: Income per capita vs minimum-living line   # optional; name_zh likewise
        unit: ratio               # optional
        missing: not_deprived     # optional: not_deprived (default) | deprived | a number to fill
    jurisdiction: {street: street_col, community: community_col}  # optional: see .jurisdiction

With a ``dimensions`` section, every indicator's ``dimension`` must be one of its ids (an
unknown id is an error naming the indicator and the id), ids and orders are unique, and every
declared dimension must hold an indicator (:class:`~assist.features.catalog.Catalog` checks
all of this). Without one, each dimension id the indicators use is its own name in
both languages, in order of first appearance.

:func:`load_catalog` turns it into the same :class:`~assist.features.catalog.Catalog` the
built-in indicators use, so everything downstream (the deprivation index first) works on it.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, Strict, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from assist.errors import ConfigError, InputError
from assist.features.catalog import (
    NOT_DEPRIVED_IF_MISSING,
    WEIGHT_TOLERANCE,
    Catalog,
    Dimension,
    Indicator,
    MissingRule,
)
from assist.features.codes import CAUSES
from assist.features.jurisdiction import JurisdictionSpec
from assist.yamlfile import read_yaml

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
_BACKTICKED = re.compile(r"`([^`]*)`")
TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
#: element-wise functions an ``expr`` may call (pandas ``eval``'s maths functions)
EXPR_FUNCTIONS = ("abs", "sqrt", "exp", "expm1", "log", "log1p", "log10", "floor", "ceil",
                  "sin", "cos", "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh",
                  "tanh", "arcsinh", "arccosh", "arctanh")
_EXPR_NODES = (ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name,
               ast.Load, ast.Constant, ast.List, ast.Tuple, ast.operator, ast.unaryop,
               ast.boolop, ast.cmpop)


class DimensionSpec(BaseModel):
    """One dimension of a YAML catalog, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(min_length=1)]
    name_zh: str | None = None
    name_en: str | None = None
    order: Annotated[int, Strict()] | None = None

    def to_dimension(self, position: int) -> Dimension:
        """The catalog entry this spec declares (``position``: 1-based, the default order)."""
        name_en = self.name_en or self.name_zh or self.id
        return Dimension(id=self.id, name_zh=self.name_zh or name_en, name_en=name_en,
                         order=position if self.order is None else self.order)


class IndicatorSpec(BaseModel):
    """One indicator of a YAML catalog, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    column: str | None = None
    expr: str | None = None
    dimension: Annotated[str, Field(min_length=1)]
    direction: Annotated[int, Strict()]
    cutoff: Annotated[float, Field(allow_inf_nan=False)]
    weight: Annotated[float, Field(ge=0, le=1)]
    cause: str | None = None
    name_en: str | None = None
    name_zh: str | None = None
    unit: str | None = None
    description: str | None = None
    missing: str | float = "not_deprived"

    @field_validator("id")
    @classmethod
    def _snake_case(cls, v: str) -> str:
        if not SNAKE_CASE.match(v):
            raise PydanticCustomError(
                "catalog_snake_case", "{value} is not snake_case (lower-case letters, digits and "
                "single underscores, starting with a letter)", {"value": repr(v)})
        return v

    @field_validator("direction")
    @classmethod
    def _plus_or_minus_one(cls, v: int) -> int:
        if v not in (1, -1):
            raise PydanticCustomError(
                "catalog_direction",
                "must be 1 (deprived above the cutoff) or -1 (deprived below it), "
                "got {value}", {"value": repr(v)})
        return v

    @field_validator("cause")
    @classmethod
    def _known_cause(cls, v: str | None) -> str | None:
        if v is not None and v not in CAUSES:
            raise PydanticCustomError(
                "catalog_cause", "unknown cause code {value}; known: {known}",
                {"value": repr(v), "known": ", ".join(CAUSES)})
        return v

    @field_validator("expr")
    @classmethod
    def _expression(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                expression_names(v)
            except ValueError as exc:
                raise PydanticCustomError("catalog_expr", "{error}", {"error": str(exc)}) from None
        return v

    @field_validator("missing", mode="before")
    @classmethod
    def _missing_rule(cls, v: Any) -> str | float:
        if v in ("not_deprived", "deprived"):
            return v
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            return float(v)
        raise PydanticCustomError(
            "catalog_missing", "must be not_deprived, deprived or a number to fill, got {value}",
            {"value": repr(v)})

    @model_validator(mode="after")
    def _column_or_expr(self) -> IndicatorSpec:
        if (self.column is None) == (self.expr is None):
            which = "both" if self.column is not None else "neither"
            raise PydanticCustomError(
                "catalog_column_or_expr",
                "fields 'column' and 'expr': give exactly one of them, not {which}",
                {"which": which})
        return self

    def to_indicator(self) -> Indicator:
        """The catalog entry this spec declares."""
        name_en = self.name_en or self.name_zh or self.id
        if self.missing == "not_deprived":
            missing = NOT_DEPRIVED_IF_MISSING
        elif self.missing == "deprived":
            missing = MissingRule("deprived", "no value: counted as deprived")
        else:
            missing = MissingRule("fill", f"no value: filled with {self.missing:g}",
                                  float(self.missing))
        return Indicator(
            id=self.id, name_zh=self.name_zh or name_en, name_en=name_en,
            dimension=self.dimension, unit=self.unit or "", direction=self.direction,
            cutoff=float(self.cutoff), weight=float(self.weight),
            description=self.description or name_en, cause=self.cause, missing=missing,
            column=self.column, expr=self.expr,
        )


class CatalogSpec(BaseModel):
    """A YAML catalog file, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = None
    version: str | None = None
    dimensions: Annotated[list[DimensionSpec], Field(min_length=1)] | None = None
    indicators: Annotated[list[IndicatorSpec], Field(min_length=1)]
    jurisdiction: JurisdictionSpec | None = None  # see assist.features.jurisdiction

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, v: Any) -> Any:
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        if v is not None and not isinstance(v, str):
            raise PydanticCustomError("catalog_version", "must be text such as \"1\", got {value}",
                                      {"value": repr(v)})
        return v

    @model_validator(mode="after")
    def _catalog_wide(self) -> CatalogSpec:
        first: dict[str, int] = {}
        for pos, ind in enumerate(self.indicators, start=1):
            if ind.id in first:
                raise PydanticCustomError(
                    "catalog_duplicate", "indicator {id} (#{pos}), field 'id': duplicate of "
                    "indicator #{first}", {"id": repr(ind.id), "pos": pos, "first": first[ind.id]})
            first[ind.id] = pos
        total = sum(ind.weight for ind in self.indicators)  # as Catalog.validate sums
        if abs(total - 1.0) > WEIGHT_TOLERANCE:
            raise PydanticCustomError(
                "catalog_weights", "field 'weight' of the {n} indicators sums to {total}, not 1 "
                "(tolerance 1e-6)", {"n": len(self.indicators), "total": f"{total:.6g}"})
        return self

    def to_catalog(self, default_name: str) -> Catalog:
        """The catalog this file declares."""
        dims = tuple(d.to_dimension(pos) for pos, d in enumerate(self.dimensions or (), start=1))
        return Catalog(name=self.name or default_name, version=self.version or "1",
                       indicators=tuple(i.to_indicator() for i in self.indicators),
                       dimension_entries=dims)


def load_catalog(path: Path | str) -> Catalog:
    """Read and validate a YAML catalog; :class:`ConfigError` names file, indicator and field."""
    path = Path(path)
    raw = read_yaml(path, what="catalog")
    if not isinstance(raw, dict):
        raise ConfigError(f"catalog file {path}: expected a mapping with an 'indicators' list, "
                          f"got {type(raw).__name__}")
    try:
        spec = CatalogSpec.model_validate(raw)
    except ValidationError as exc:
        problems = [_describe(err, raw) for err in exc.errors()]
        raise ConfigError(f"catalog file {path} is invalid:\n  - " + "\n  - ".join(problems)
                          ) from None
    try:
        return spec.to_catalog(path.stem)
    except ConfigError as exc:
        raise ConfigError(f"catalog file {path} is invalid: {exc}") from None


_ITEMS = {"indicators": ("indicator", IndicatorSpec), "dimensions": ("dimension", DimensionSpec)}


def _describe(err: Any, raw: dict[str, Any]) -> str:
    """One pydantic error in words: which indicator or dimension (id and position), which field."""
    loc, kind = list(err["loc"]), err["type"]
    nested = len(loc) >= 2 and loc[0] in _ITEMS and isinstance(loc[1], int)
    if kind == "extra_forbidden":
        known = _ITEMS[loc[0]][1].model_fields if nested else CatalogSpec.model_fields
        msg = f" is not a known field (known: {', '.join(known)})"
    elif kind == "missing":
        msg = " is required"
    elif kind == "model_type":
        msg = ": should be a mapping of fields"
    else:
        msg = f": {err['msg']}"
    if nested:
        items, what = raw.get(loc[0]), _ITEMS[loc[0]][0]
        item = items[loc[1]] if isinstance(items, list) and loc[1] < len(items) else None
        ident = item.get("id") if isinstance(item, dict) else None
        where = f"{what} #{loc[1] + 1}"
        if isinstance(ident, str):
            where = f"{what} {ident!r} (#{loc[1] + 1})"
        fields = [x for x in loc[2:] if isinstance(x, str)]
        return f"{where}, field {fields[0]!r}{msg}" if fields else f"{where}{msg}"
    if loc:
        return f"field {'.'.join(str(x) for x in loc)!r}{msg}"
    return err["msg"]


def expression_names(expr: str) -> set[str]:
    """Column names a pandas ``eval`` expression reads (function names excluded).

    Only arithmetic, comparisons, logic, literals, column names and the element-wise maths
    functions of :data:`EXPR_FUNCTIONS` are allowed: attribute access, subscripts and other
    calls would let a catalog file run arbitrary code through ``DataFrame.eval``. Raises
    :class:`ValueError` for anything else.
    """
    quoted: dict[str, str] = {}

    def _placeholder(m: re.Match[str]) -> str:
        key = f"__backtick_{len(quoted)}__"
        quoted[key] = m.group(1)
        return key

    source = _BACKTICKED.sub(_placeholder, expr)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"{expr!r} is not a single expression: {exc.msg}") from None
    functions: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            if not (isinstance(node.func, ast.Name) and node.func.id in EXPR_FUNCTIONS
                    and not node.keywords):
                raise ValueError(f"{expr!r} calls something other than the functions "
                                 f"{', '.join(EXPR_FUNCTIONS)}")
            functions.add(id(node.func))
        elif not isinstance(node, _EXPR_NODES):
            raise ValueError(f"{expr!r} uses {type(node).__name__} syntax; expressions may "
                             "use arithmetic, comparisons, logic, numbers and column names")
    return {quoted.get(node.id, node.id) for node in ast.walk(tree)
            if isinstance(node, ast.Name) and id(node) not in functions}


def check_columns(catalog: Catalog, columns: Any, *, table: str | None = None) -> None:
    """Raise :class:`ConfigError` naming the indicator and the column the table lacks."""
    have = set(columns)
    source = f" of table {table}" if table else " of the table"
    for ind in catalog:
        where = f"catalog {catalog.name!r}, indicator {ind.id!r}"
        if ind.column is not None and ind.column not in have:
            raise ConfigError(f"{where}, field 'column': {ind.column!r} is not a column"
                              f"{source} (columns: {_listing(columns)})")
        if ind.expr is not None:
            try:
                unknown = sorted(expression_names(ind.expr) - have)
            except ValueError as exc:
                raise ConfigError(f"{where}, field 'expr': {exc}") from None
            if unknown:
                raise ConfigError(f"{where}, field 'expr': {', '.join(map(repr, unknown))} "
                                  f"{'is not a column' if len(unknown) == 1 else 'are not columns'}"
                                  f"{source} (columns: {_listing(columns)})")
        if ind.column is None and ind.expr is None:
            raise ConfigError(f"{where}: has neither 'column' nor 'expr' (a built-in indicator "
                              "needs the source tables, not a flat table)")


def _listing(columns: Any, limit: int = 20) -> str:
    cols = [str(c) for c in columns]
    return ", ".join(cols[:limit]) + (f", … ({len(cols)} in all)" if len(cols) > limit else "")


def indicator_values(table: pd.DataFrame, catalog: Catalog) -> pd.DataFrame:
    """Indicator values (float, one column per indicator id) of a flat household table.

    A ``column`` indicator reads that column, an ``expr`` one evaluates ``table.eval(expr)``;
    division by zero gives ±inf (compared with the cutoff as such) or NaN for 0/0 (missing).
    """
    check_columns(catalog, table.columns)
    out: dict[str, pd.Series] = {}
    for ind in catalog:
        if ind.column is not None:
            raw = table[ind.column]
            field, what = "column", repr(ind.column)
        else:
            try:
                raw = table.eval(ind.expr)
            except Exception as exc:  # noqa: BLE001 - pandas raises many types for a bad expression
                raise ConfigError(f"catalog {catalog.name!r}, indicator {ind.id!r}, field "
                                  f"'expr': cannot evaluate {ind.expr!r}: {exc}") from None
            if not isinstance(raw, pd.Series):
                raw = pd.Series(raw, index=table.index)
            field, what = "expr", repr(ind.expr)
        out[ind.id] = _numeric(raw, f"indicator {ind.id!r} ({field} {what})")
    return pd.DataFrame(out, index=table.index, columns=catalog.ids)


def _numeric(raw: pd.Series, what: str) -> pd.Series:
    """``raw`` as floats; a value that is present but not a number is an :class:`InputError`."""
    if pd.api.types.is_bool_dtype(raw.dtype):
        return raw.astype(float)
    values = pd.to_numeric(raw, errors="coerce")
    bad = (values.isna() & raw.notna()).to_numpy()
    if bad.any():
        pos = int(bad.argmax())
        raise InputError(f"{what}: {int(bad.sum())} value(s) are not numbers, the first "
                         f"{raw.iloc[pos]!r} at data row {pos + 1}")
    return values.astype(float)


def read_table(path: Path | str) -> pd.DataFrame:
    """Read a flat household table (.csv or .parquet); :class:`InputError` names the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise InputError(f"unsupported table format {path.suffix or '(none)'!r}; "
                         "use .csv or .parquet", file=str(path))
    if not path.is_file():
        raise InputError("table does not exist", file=str(path))
    try:
        if suffix == ".csv":
            try:
                return pd.read_csv(path, encoding="utf-8-sig", low_memory=False)
            except UnicodeDecodeError:  # Chinese platforms often export GB18030 / GBK
                return pd.read_csv(path, encoding="gb18030", low_memory=False)
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pandas and pyarrow raise many types for an unreadable file
        raise InputError(f"cannot read table: {type(exc).__name__}: {exc}",
                         file=str(path)) from None
