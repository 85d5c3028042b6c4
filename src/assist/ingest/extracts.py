"""Finding and reading raw department extracts: ``<source>/<table>/<YYYY-MM>.parquet|csv``.

Every table of :data:`assist.features.schemas.TABLE_ORDER` needs one file per snapshot month;
the snapshots are the months found in any table. A missing folder, file or column, or a file
that cannot be read, is an :class:`~assist.errors.InputError` naming it — never a quarantined
row. Error messages name files and columns, never values (values may be personal data).
CSV files are UTF-8 (a byte-order mark is allowed) with a header row; every value is read as
text and typed later, column by column, by :mod:`assist.ingest.coerce`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TableSpec

SUFFIXES = (".parquet", ".csv")
FILE_RE = re.compile(r"^(?P<snapshot>\d{4}-(0[1-9]|1[0-2]))\.(parquet|csv)$")
_PANDAS_TYPES = {pa.string(): pd.StringDtype(), pa.large_string(): pd.StringDtype(),
                 pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int64Dtype(),
                 pa.float64(): pd.Float64Dtype(), pa.bool_(): pd.BooleanDtype()}


@dataclass(frozen=True)
class Extract:
    """One extract file: a table's snapshot."""

    table: str
    snapshot: str
    path: Path
    #: path relative to the source folder, with '/' (as written in the quarantine)
    name: str


@dataclass
class RawFrame:
    """An extract's declared columns as read (RangeIndex), plus what else the file held."""

    frame: pd.DataFrame
    extra_columns: list[str]
    sha256: str
    #: the file's size in bytes, as read
    size: int


def discover(source: Path) -> tuple[list[str], list[Extract]]:
    """Snapshots and extract files under ``source``, snapshot by snapshot in table order."""
    source = Path(source)
    if not source.is_dir():
        raise InputError("source folder not found", file=str(source))
    found: dict[str, dict[str, Path]] = {}
    for table in TABLE_ORDER:
        found[table] = _table_files(source / table)
    snapshots = sorted({s for files in found.values() for s in files})
    if not snapshots:
        raise InputError("no extract files (<table>/<YYYY-MM>.parquet or .csv) found",
                         file=str(source))
    missing = [(t, s) for s in snapshots for t in TABLE_ORDER if s not in found[t]]
    if missing:
        table, snap = missing[0]
        more = f"; {len(missing) - 1} more missing" if len(missing) > 1 else ""
        raise InputError(f"table {table!r} has no extract for snapshot {snap} (expected "
                         f"{snap}.parquet or {snap}.csv{more})", file=str(source / table))
    extracts = [Extract(t, s, found[t][s], f"{t}/{found[t][s].name}")
                for s in snapshots for t in TABLE_ORDER]
    return snapshots, extracts


def _table_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise InputError("table folder not found", file=str(folder))
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        raise InputError(f"cannot list folder ({exc.strerror or type(exc).__name__})",
                         file=str(folder)) from None
    files: dict[str, Path] = {}
    for path in entries:
        if path.name.startswith(".") or path.suffix.lower() not in SUFFIXES:
            continue
        match = FILE_RE.fullmatch(path.name)
        if not match:
            raise InputError("extract file is not named YYYY-MM.parquet or YYYY-MM.csv",
                             file=str(path))
        snapshot = match["snapshot"]
        if snapshot in files:
            raise InputError(f"two extracts for snapshot {snapshot} ({files[snapshot].name} "
                             f"and {path.name})", file=str(folder))
        files[snapshot] = path
    return files


def read_extract(extract: Extract, spec: TableSpec) -> RawFrame:
    """The declared columns of an extract, with its SHA-256 and size; InputError if it cannot
    be used."""
    path = extract.path
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read file ({exc.strerror or type(exc).__name__})",
                         file=str(path)) from None
    try:
        if path.suffix.lower() == ".csv":
            table = _read_csv(data, spec)
        else:
            table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        raise InputError(f"unreadable {kind} file ({_reason(exc)})", file=str(path)) from None
    names = table.column_names
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise InputError("column appears more than once", file=str(path),
                         column=", ".join(duplicated))
    declared = spec.column_names
    missing = [c for c in declared if c not in names]
    if missing:
        raise InputError(f"missing column{'s' if len(missing) > 1 else ''}", file=str(path),
                         column=", ".join(missing))
    try:
        frame = table.select(declared).to_pandas(types_mapper=_PANDAS_TYPES.get,
                                                 date_as_object=False, ignore_metadata=True)
    except (pa.ArrowException, ValueError) as exc:
        raise InputError(f"unreadable column types ({_reason(exc)})", file=str(path)) from None
    frame.index = pd.RangeIndex(len(frame))
    extra = [n for n in names if n not in declared]
    return RawFrame(frame, extra, hashlib.sha256(data).hexdigest(), len(data))


def _read_csv(data: bytes, spec: TableSpec) -> pa.Table:
    convert = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in spec.column_names},
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
    )
    return pcsv.read_csv(pa.BufferReader(data), convert_options=convert)


def _reason(exc: BaseException) -> str:
    """A short reason that cannot echo file content.

    Arrow's messages name structure ("CSV parse error: Expected 5 columns, got 6: <row>"), but
    their last part can quote the offending text: keep at most the first two parts, never the
    last one, and nothing after a quote.
    """
    text = (str(exc).splitlines() or [""])[0]
    text = re.split(r"['\"`]", text, maxsplit=1)[0]
    parts = text.split(": ")
    kept = parts[:2] if len(parts) >= 3 else parts[:1]
    reason = ": ".join(p.strip() for p in kept if p.strip())
    return f"{type(exc).__name__}: {reason}"[:200] if reason else type(exc).__name__
