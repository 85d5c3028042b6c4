"""A tiny hand-made district of raw extracts (all 12 tables, 2 snapshots) for ingest tests.

Six households of two or three persons; every table has a few valid rows per snapshot. Raw
identifiers, names, ID numbers, addresses and certificate numbers carry recognisable markers
(``HHX``, ``PPX``, ``姓名``, ``ID9``, ``幸福路``, ``CERT``) so tests can search the output for
any leak. Tests plant bad values with :meth:`RawSource.set` / :meth:`RawSource.add` before
writing the source folder as Parquet or CSV.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from rich.progress import Progress

from assist.features.schemas import TABLES, dtypes
from assist.ingest.run import IngestSummary, ingest

SNAPSHOTS = ("2024-01", "2024-02")
KEY = "test-pseudonym-key-0123456789abcdef"
N_HOUSEHOLDS = 6

#: raw values that must never appear in the store
HOUSEHOLD_IDS = [f"HHX{i:05d}" for i in range(1, N_HOUSEHOLDS + 1)]
PERSONS = [  # (person id, household index, age, relation)
    (f"PPX{h:03d}{k}", h, age, rel)
    for h in range(1, N_HOUSEHOLDS + 1)
    for k, (age, rel) in enumerate([(40 + h, "head"), (38 + h, "spouse"), (8 + h, "child")][
        : 2 + h % 2])
]
PERSON_IDS = [p for p, *_ in PERSONS]
NAMES = [f"姓名{i:02d}" for i in range(len(PERSONS))]
ID_NUMBERS = [f"ID9310101{i:09d}" for i in range(len(PERSONS))]
ADDRESSES = [f"幸福路{i}号" for i in range(1, N_HOUSEHOLDS + 1)]
CERTIFICATES = [f"CERT{i:06d}" for i in range(len(PERSONS))]


def month_end(snapshot: str) -> pd.Timestamp:
    """Last day of a ``YYYY-MM`` month."""
    return pd.Period(snapshot, freq="M").end_time.normalize()


def _day(snapshot: str, day: int) -> pd.Timestamp:
    return pd.Timestamp(f"{snapshot}-{day:02d}")


def _rows(snapshot: str) -> dict[str, list[dict]]:
    m = snapshot.replace("-", "")
    hh = lambda h: HOUSEHOLD_IDS[h - 1]  # noqa: E731
    out: dict[str, list[dict]] = {name: [] for name in TABLES}
    for h in range(1, N_HOUSEHOLDS + 1):
        out["households"].append(dict(
            household_id=hh(h), street_code=f"S0{1 + h % 3}", community_code=f"S0{1 + h % 3}C001",
            registration_type="local", address_class="old_lane" if h % 2 else "commodity",
            address=ADDRESSES[h - 1]))
        out["income"].append(dict(household_id=hh(h), monthly_income=1500.0 * h,
                                  financial_assets=None if h == 3 else 2000.0 * h,
                                  arrears_months=h % 3))
        out["housing"].append(dict(household_id=hh(h), tenure="private_rental", floor_area_m2=
                                   20.0 + h, condition="old", shared_kitchen=h % 2 == 0,
                                   shared_toilet=False, monthly_rent=800.0 + h))
        out["hotline_appeals"].append(dict(appeal_id=f"AP{m}{h:03d}", household_id=hh(h),
                                           appeal_date=_day(snapshot, 10 + h),
                                           category="hardship"))
        out["assistance"].append(dict(grant_id=f"GR{h:04d}", household_id=hh(h),
                                      programme="dibao", monthly_amount=1330.0,
                                      start_date=pd.Timestamp("2023-07-01"), end_date=None))
        out["verifications"].append(dict(verification_id=f"VE{m}{h:03d}", household_id=hh(h),
                                         visit_date=_day(snapshot, 3 + h), trigger="referral",
                                         outcome="confirmed", caseworker_id=f"CW{h:02d}"))
    for i, (pid, h, age, rel) in enumerate(PERSONS):
        out["persons"].append(dict(
            person_id=pid, household_id=hh(h), name=NAMES[i], id_number=ID_NUMBERS[i], age=age,
            sex="F" if i % 2 else "M", relation=rel, hukou="local",
            education_level=None if rel == "child" else "senior"))
        out["medical_claims"].append(dict(
            claim_id=f"CL{m}{i:04d}", person_id=pid, household_id=hh(h),
            service_date=_day(snapshot, 1 + i % 20), total_cost=1000.0 + i,
            out_of_pocket=300.0 + i, inpatient=i % 3 == 0, inpatient_days=3 if i % 3 == 0 else 0,
            diagnosis_group="diabetes", major_illness=False, chronic_condition=i % 2 == 0))
        out["disability"].append(dict(
            person_id=pid, household_id=hh(h), certificate_no=CERTIFICATES[i],
            disability_type="physical", grade=1 + i % 4, issue_date=pd.Timestamp("2015-05-05")))
        if rel == "child":
            out["school_enrolment"].append(dict(
                person_id=pid, household_id=hh(h), enrolled=True, school_level="primary",
                monthly_education_cost=450.0))
        else:
            out["employment"].append(dict(
                person_id=pid, household_id=hh(h), registered_unemployed=i % 4 == 0,
                unemployed_since=pd.Timestamp("2023-03-01") if i % 4 == 0 else None,
                social_insurance=i % 4 != 0, monthly_wage=None if i % 4 == 0 else 5000.0))
        for day in (1, 2):
            out["water_readings"].append(dict(person_id=pid, household_id=hh(h),
                                              reading_date=_day(snapshot, day),
                                              litres=None if day == 2 and i == 0 else 90.0 + i))
    return out


def _frame(name: str, rows: list[dict], snapshot: str) -> pd.DataFrame:
    declared = dtypes(name)
    records = [{**r, "snapshot": snapshot, "as_of_date": month_end(snapshot)} for r in rows]
    df = pd.DataFrame(records, columns=list(declared))
    return df.astype(declared)


class RawSource:
    """Raw extracts of the tiny district, editable before they are written."""

    def __init__(self, snapshots: tuple[str, ...] = SNAPSHOTS) -> None:
        self.snapshots = snapshots
        self.tables = {name: {} for name in TABLES}
        for snap in snapshots:
            for name, rows in _rows(snap).items():
                self.tables[name][snap] = _frame(name, rows, snap)

    def frame(self, table: str, month: str = SNAPSHOTS[0]) -> pd.DataFrame:
        """The raw extract of ``table`` for snapshot ``month``."""
        return self.tables[table][month]

    def set(self, table: str, row: int, month: str = SNAPSHOTS[0], **values: object) -> None:
        """Overwrite values of row ``row`` (0-based) of snapshot ``month``; any value, even one
        of the wrong type."""
        df = self.tables[table][month]
        for column, value in values.items():
            if column not in df or not _fits(df[column], value):
                df[column] = df[column].astype(object) if column in df else None
            df.loc[row, column] = value

    def add(self, table: str, row: dict | int, month: str = SNAPSHOTS[0],
            **values: object) -> int:
        """Append a row (a copy of row ``row`` or a dict) with overrides to snapshot ``month``;
        returns its 0-based position."""
        df = self.tables[table][month]
        base = df.iloc[row].to_dict() if isinstance(row, int) else dict(row)
        new = pd.DataFrame([{**base, **values}], columns=df.columns).astype(df.dtypes.to_dict())
        self.tables[table][month] = pd.concat([df, new], ignore_index=True)
        return len(df)

    def count(self) -> int:
        """Rows over all tables and snapshots."""
        return sum(len(df) for by_snap in self.tables.values() for df in by_snap.values())

    def write(self, folder: Path, fmt: str = "parquet") -> Path:
        """Write ``folder/<table>/<YYYY-MM>.<fmt>``; returns ``folder``."""
        for name, by_snap in self.tables.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            for snap, df in by_snap.items():
                path = folder / name / f"{snap}.{fmt}"
                if fmt == "csv":
                    df.to_csv(path, index=False, date_format="%Y-%m-%d")
                else:  # a column holding planted text becomes a text column
                    text = {c: pd.StringDtype() for c in df if df[c].dtype == object}
                    df.astype(text).to_parquet(path, index=False)
        return folder


def _fits(series: pd.Series, value: object) -> bool:
    if value is None:
        return True
    try:
        pd.Series([value]).astype(series.dtype)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, str) or pd.api.types.is_string_dtype(series.dtype)


@pytest.fixture
def raw() -> RawSource:
    """The tiny district's raw extracts, valid, ready to be edited."""
    return RawSource()


@pytest.fixture
def key() -> str:
    """A pseudonym key for tests."""
    return KEY


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory) -> tuple[Path, Path, IngestSummary, RawSource, Progress]:
    """The valid tiny district written as Parquet and ingested once (with a progress bar):
    source folder, store, summary, raw extracts, progress."""
    folder = tmp_path_factory.mktemp("baseline")
    raw = RawSource()
    source = raw.write(folder / "source")
    with Progress(disable=True) as progress:
        summary = ingest(source=source, out=folder / "store", key=KEY, progress=progress)
    return source, folder / "store", summary, raw, progress


@pytest.fixture
def previous(baseline, tmp_path) -> tuple[Path, Path, dict[str, bytes]]:
    """A copy of the baseline source folder and store in ``tmp_path``, with the store's bytes."""
    shutil.copytree(baseline[0], tmp_path / "source")
    shutil.copytree(baseline[1], tmp_path / "store")
    return tmp_path / "source", tmp_path / "store", tree(tmp_path / "store")
