"""What a source folder declares about itself, and what it holds besides extracts.

* ``source.yaml`` (optional, at the top of the source folder) declares the text encoding of CSV
  extracts that are not UTF-8, for all tables or per table::

      encoding: gb18030            # every CSV file
      encoding: {income: gb18030}  # or per table (others stay UTF-8)

  ``assist ingest --encoding`` declares one for every CSV file and wins over the file.
* Months later than the horizon (by default the month of the run date) are refused: a future
  month would become "the latest" and every later stage would use it.
* Anything else in the folder — a folder that is no source table, a file that is no extract —
  is reported (a run with ``strict`` fails on it, naming the first).
"""

from __future__ import annotations

import codecs
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assist.errors import InputError
from assist.features.schemas import TABLE_ORDER

SOURCE_FILE = "source.yaml"
_EXTRACT_SUFFIXES = (".parquet", ".csv")


@dataclass(frozen=True)
class SourceOptions:
    """Declared CSV encodings: one for every table, or per table (``None``: UTF-8)."""

    encoding: str | None = None
    by_table: dict[str, str] = field(default_factory=dict)

    def encoding_of(self, table: str) -> str | None:
        """The declared encoding of ``table``'s CSV files (``None``: UTF-8)."""
        return self.by_table.get(table, self.encoding)


def read_options(source: Path, *, encoding: str | None = None) -> SourceOptions:
    """The options ``source/source.yaml`` declares, ``encoding`` (if given) winning."""
    path = Path(source) / SOURCE_FILE
    declared: object = None
    if path.is_file():
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(f"unreadable source declaration ({type(exc).__name__})",
                             file=str(path)) from None
        if not isinstance(data, dict) or set(data) - {"encoding"}:
            raise InputError("a source declaration holds only 'encoding' (a name, or a "
                             "mapping of table to name)", file=str(path))
        declared = data.get("encoding")
    if encoding is not None:
        return SourceOptions(_codec(encoding, "--encoding"))
    if declared is None:
        return SourceOptions()
    if isinstance(declared, str):
        return SourceOptions(_codec(declared, str(path)))
    if isinstance(declared, dict) and all(isinstance(v, str) for v in declared.values()):
        unknown = sorted(set(map(str, declared)) - set(TABLE_ORDER))
        if unknown:
            raise InputError(f"encoding declared for unknown table(s) {', '.join(unknown)}",
                             file=str(path))
        return SourceOptions(by_table={str(t): _codec(e, str(path)) for t, e in declared.items()})
    raise InputError("'encoding' must be a name or a mapping of table to name",
                     file=str(path))


def _codec(name: str, where: str) -> str | None:
    """The codec's canonical name (``None`` for UTF-8, the default)."""
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise InputError(f"unknown text encoding {name!r} (declared in {where})") from None
    return None if canonical in ("utf-8", "utf-8-sig") else canonical


def current_month(today: dt.date | None = None) -> str:
    """``YYYY-MM`` of ``today`` (default: the machine's date)."""
    today = today or dt.date.today()
    return f"{today.year:04d}-{today.month:02d}"


def check_horizon(files: dict[str, str], *, horizon: str | None) -> None:
    """Refuse months after ``horizon`` (default: the month of the run date), naming them and
    a file of the first; ``files`` maps each month to one of its files."""
    last = horizon or current_month()
    late = sorted(s for s in files if s > last)
    if late:
        raise InputError(f"extracts for month {late[0]} are later than the horizon {last} "
                         f"({'declared' if horizon else 'the month of the run date'}): a "
                         f"future month is refused ({len(late)} such month(s): "
                         f"{', '.join(late)}); the store is unchanged",
                         file=files[late[0]])


def strays(source: Path) -> list[str]:
    """Paths (relative to ``source``) that are neither a source table's folder nor an extract
    file in one, nor the source declaration; hidden names are left alone."""
    source = Path(source)
    found: list[str] = []
    for path in sorted(source.iterdir()):
        if path.name.startswith(".") or path.name == SOURCE_FILE:
            continue
        if not path.is_dir():
            found.append(path.name)
        elif path.name not in TABLE_ORDER:
            found.append(f"{path.name}/ (no such table)")
        else:
            found += [f"{path.name}/{p.name}" for p in sorted(path.iterdir())
                      if not p.name.startswith(".") and (p.is_dir() or p.suffix.lower()
                                                         not in _EXTRACT_SUFFIXES)]
    return found


def check_strays(found: list[str], *, source: Path, strict: bool) -> None:
    """With ``strict``, refuse a source folder holding anything but extracts."""
    if strict and found:
        raise InputError(f"the source folder holds {len(found)} thing(s) that are no extract "
                         f"(first: {found[0]}); remove them, or run without --strict",
                         file=str(source))
