"""Finding and reading raw department extracts: ``<source>/<table>/<YYYY-MM>.parquet|csv``.

Every table of :data:`assist.features.schemas.TABLE_ORDER` needs one file per snapshot month;
the snapshots are the months found in any table. A missing folder, file or column, or a file
that cannot be read, is an :class:`~assist.errors.InputError` naming it — never a quarantined
row. Error messages name files and columns, never values (values may be personal data).
CSV files are UTF-8 (a byte-order mark is allowed) unless an encoding is declared for the
table (:mod:`assist.ingest.source`), with a header row; every value is read as text and typed
later, column by column, by :mod:`assist.ingest.coerce`. A CSV file that is not valid in its
encoding fails naming the encoding it most likely is (charset-normalizer's guess). A CSV row
with more or fewer fields than the header is kept as a row of missing values at its place and
reported (:attr:`RawFrame.malformed`), to be quarantined as ``malformed_row``; the rest of the
file is read as usual.
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import charset_normalizer
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER, TableSpec
from assist.ingest.source import SourceOptions

log = logging.getLogger(__name__)

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
    #: the declared text encoding of a CSV file (``None``: UTF-8)
    encoding: str | None = None


@dataclass
class RawFrame:
    """An extract's declared columns as read (RangeIndex), plus what else the file held."""

    frame: pd.DataFrame
    extra_columns: list[str]
    sha256: str
    #: the file's size in bytes, as read
    size: int
    #: positions of CSV rows whose field count differs from the header's (missing values here)
    malformed: np.ndarray = field(default_factory=lambda: np.array([], dtype=np.int64))


def discover(source: Path, options: SourceOptions | None = None,
             ) -> tuple[list[str], list[Extract]]:
    """Snapshots and extract files under ``source``, snapshot by snapshot in table order (CSV
    files with the encoding ``options`` declare for their table)."""
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
    if options is not None:
        extracts = [replace(e, encoding=options.encoding_of(e.table))
                    if e.path.suffix.lower() == ".csv" else e for e in extracts]
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
    malformed = np.array([], dtype=np.int64)
    try:
        if path.suffix.lower() == ".csv":
            table, malformed = _read_csv(data, spec, extract.encoding)
        else:
            table = pq.read_table(pa.BufferReader(data))
    except (pa.ArrowException, OSError, ValueError) as exc:
        kind = "CSV" if path.suffix.lower() == ".csv" else "Parquet"
        why = _reason(exc)
        if kind == "CSV" and _not_text(exc, extract.encoding):
            why = _encoding_reason(data, extract.encoding)
        raise InputError(f"unreadable {kind} file ({why})", file=str(path)) from None
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
    return RawFrame(frame, extra, hashlib.sha256(data).hexdigest(), len(data), malformed)


def _read_csv(data: bytes, spec: TableSpec,
              encoding: str | None = None) -> tuple[pa.Table, np.ndarray]:
    """The file's table, and the positions of malformed rows (kept as rows of nulls)."""
    convert = pcsv.ConvertOptions(
        column_types={c: pa.string() for c in spec.column_names},
        null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=False,
    )
    read = pcsv.ReadOptions(encoding=encoding or "utf8")
    try:
        return (pcsv.read_csv(pa.BufferReader(data), read_options=read,
                              convert_options=convert), np.array([], dtype=np.int64))
    except pa.ArrowInvalid as exc:
        if not str(exc).startswith("CSV parse error"):
            raise
    # some row has another number of fields: read again, one thread, skipping those rows
    # (Arrow numbers rows from 1 with the header; a row of the file is data row number - 2).
    # Arrow hands the skipped row's text over as UTF-8: check that it is, first
    if encoding is None:
        _check_utf8(data)
    numbers: list[int | None] = []

    def skip(row: pcsv.InvalidRow) -> str:
        numbers.append(row.number)
        return "skip"

    table = pcsv.read_csv(pa.BufferReader(data), convert_options=convert,
                          read_options=pcsv.ReadOptions(encoding=read.encoding, use_threads=False),
                          parse_options=pcsv.ParseOptions(invalid_row_handler=skip))
    if any(n is None or n < 2 for n in numbers):
        raise ValueError("CSV parse error: a malformed row could not be located")
    bad = np.asarray(numbers, dtype=np.int64) - 2
    total = table.num_rows + len(bad)
    keep = np.ones(total, dtype=bool)
    keep[bad] = False
    index = np.zeros(total, dtype=np.int64)
    index[keep] = np.arange(table.num_rows)
    log.warning("%d CSV row(s) with the wrong number of fields, quarantined (lines %s)",
                len(bad), ", ".join(str(n) for n in numbers[:10]))
    return table.take(pa.array(index, mask=~keep)), bad


def _check_utf8(data: bytes, chunk: int = 1 << 24) -> None:
    """ValueError (as Arrow words it) unless ``data`` is UTF-8 text; read in chunks."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        for start in range(0, len(data), chunk):
            decoder.decode(data[start:start + chunk])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise ValueError("CSV conversion error to string: invalid UTF8 data") from None


def _not_text(exc: BaseException, encoding: str | None) -> bool:
    """Whether Arrow failed because the bytes are not text in the file's encoding."""
    text = str(exc)
    return "invalid UTF8" in text or "conversion error to string" in text or (
        encoding is not None and "decode" in text.lower())


def _encoding_reason(data: bytes, encoding: str | None) -> str:
    """That the file is not text in its encoding, and the encoding it most likely is."""
    best = charset_normalizer.from_bytes(data[: 1 << 20]).best()
    guess = f"it looks like {best.encoding}" if best is not None else "its encoding is unknown"
    return (f"not {encoding or 'UTF-8'} text: {guess}; declare it per table in "
            f"source.yaml (encoding: {{<table>: <name>}}) or with --encoding")


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
