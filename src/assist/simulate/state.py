"""State of the simulated district between months: plain arrays, one entry per person/household.

The simulator keeps only these arrays from month to month; each month's extracts are built
from them, written and dropped. Arrays are updated in place by the monthly step functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from assist.features import codes
from assist.simulate.calibration import AS_OF_LAG_DAYS

NAT = np.datetime64("NaT", "D")

# employment status codes
NONE, EMPLOYED, UNEMPLOYED, INACTIVE, RETIRED, STUDENT = range(6)
REL = {r: i for i, r in enumerate(codes.RELATIONS)}
HUKOU_LOCAL, HUKOU_NON_LOCAL = 0, 1
SEX_F, SEX_M = 0, 1
PROGRAMMES = tuple(codes.PROGRAMMES)
PROG = {p: i for i, p in enumerate(PROGRAMMES)}
CAUSES = tuple(codes.CAUSES)


@dataclass
class Persons:
    """Every person ever registered in the district (``alive``: listed in this month's registry)."""

    hh: np.ndarray
    relation: np.ndarray
    sex: np.ndarray
    birth: np.ndarray
    hukou: np.ndarray
    education: np.ndarray
    alive: np.ndarray
    death: np.ndarray
    chronic: np.ndarray
    chronic_dx: np.ndarray
    major: np.ndarray
    major_dx: np.ndarray
    dis_type: np.ndarray
    dis_grade: np.ndarray
    dis_issue: np.ndarray
    status: np.ndarray
    base_wage: np.ndarray
    wage: np.ndarray
    unemployed_since: np.ndarray
    registers: np.ndarray
    registered: np.ndarray
    insurable: np.ndarray
    insured: np.ndarray
    pension: np.ndarray
    vocational: np.ndarray
    school_u: np.ndarray
    edu_cost: np.ndarray
    monitored: np.ndarray
    litres_base: np.ndarray
    hosp_recent: np.ndarray
    hosp_start: np.ndarray
    hosp_end: np.ndarray
    pid: pa.Array
    name: pa.Array
    id_number: pa.Array

    def __len__(self) -> int:
        return len(self.hh)


@dataclass
class Households:
    """Every household of the district (``exists``: has a registered member this month)."""

    hid: pa.Array
    street: np.ndarray
    community: np.ndarray
    template: np.ndarray
    address_class: np.ndarray
    address: pa.Array
    tenure: np.ndarray
    area: np.ndarray
    condition: np.ndarray
    shared_kitchen: np.ndarray
    shared_toilet: np.ndarray
    rent: np.ndarray
    other_income: np.ndarray
    assets: np.ndarray
    arrears: np.ndarray
    known: np.ndarray
    family_support: np.ndarray
    hidden: np.ndarray
    income_hist: np.ndarray
    oop_avg: np.ndarray
    exists: np.ndarray
    hardship_appeal: np.ndarray

    def __len__(self) -> int:
        return len(self.street)


@dataclass
class Grants:
    """Assistance grants, current and recently ended (one entry per grant)."""

    gid: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    hh: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    programme: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    amount: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))

    def append(self, other: Grants) -> None:
        """Add ``other``'s grants after these."""
        for name in ("gid", "hh", "programme", "amount", "start", "end"):
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))

    def keep(self, mask: np.ndarray) -> None:
        """Keep only the grants where ``mask`` is true."""
        for name in ("gid", "hh", "programme", "amount", "start", "end"):
            setattr(self, name, getattr(self, name)[mask])

    def subset(self, mask: np.ndarray) -> Grants:
        """A new set holding the grants where ``mask`` is true."""
        return Grants(**{name: getattr(self, name)[mask] for name in (
            "gid", "hh", "programme", "amount", "start", "end")})


@dataclass
class Claims:
    """Medical claims incurred but not yet settled (they enter the extract when settled)."""

    person: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    service: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    settle: np.ndarray = field(default_factory=lambda: np.zeros(0, "datetime64[D]"))
    total: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    oop: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float64))
    days: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    dx: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    major: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))
    chronic: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    FIELDS = ("person", "service", "settle", "total", "oop", "days", "dx", "major", "chronic")

    def append(self, other: Claims) -> None:
        """Add ``other``'s claims after these."""
        for name in self.FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), getattr(other, name)]))

    def split(self, mask: np.ndarray) -> Claims:
        """Remove and return the claims where ``mask`` is true."""
        out = Claims(**{name: getattr(self, name)[mask] for name in self.FIELDS})
        for name in self.FIELDS:
            setattr(self, name, getattr(self, name)[~mask])
        return out


@dataclass
class IdKeys:
    """Scrambling keys and running counters of generated identifiers."""

    keys: dict[str, tuple[int, int]]
    counters: dict[str, int] = field(default_factory=dict)

    def next(self, kind: str, n: int) -> np.ndarray:
        """``n`` fresh sequence numbers of ``kind`` (to be scrambled into identifiers)."""
        start = self.counters.get(kind, 0)
        self.counters[kind] = start + n
        return np.arange(start, start + n, dtype=np.int64)


@dataclass(frozen=True)
class Calendar:
    """The dates of one simulated month."""

    index: int
    snapshot: str
    start: np.datetime64
    end: np.datetime64

    @classmethod
    def of(cls, index: int, month: np.datetime64) -> Calendar:
        """The calendar of ``month`` (``datetime64[M]``), the ``index``-th snapshot."""
        start = month.astype("datetime64[D]")
        end = (month + 1).astype("datetime64[D]") - 1
        return cls(index, str(month), start, end)

    @property
    def days(self) -> int:
        """Number of days in the month."""
        return int((self.end - self.start).astype(int)) + 1

    @property
    def month(self) -> int:
        """Calendar month number 1-12."""
        return int(str(self.snapshot)[5:7])

    def as_of(self, table: str) -> np.datetime64:
        """Day ``table``'s extract is current."""
        return self.end - AS_OF_LAG_DAYS[table]

    def window(self, table: str) -> tuple[np.datetime64, np.datetime64]:
        """First and last day of events that become known in ``table`` this month."""
        prev_end = self.start - 1
        return prev_end - AS_OF_LAG_DAYS[table] + 1, self.as_of(table)

    def random_days(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` uniformly random days of this month."""
        return self.start + rng.integers(0, self.days, n).astype("timedelta64[D]")


def age_at(birth: np.ndarray, day: np.datetime64) -> np.ndarray:
    """Age in whole years on ``day`` of people born on ``birth`` (birthdays counted)."""
    by = birth.astype("datetime64[Y]").astype(np.int64)
    dy = np.datetime64(day, "D").astype("datetime64[Y]").astype(np.int64)
    # compare (month, day) rather than day of year so that leap years do not shift birthdays
    not_yet = _month_day(birth) > _month_day(np.array([day], dtype="datetime64[D]"))[0]
    return dy - by - not_yet.astype(np.int64)


def _month_day(days: np.ndarray) -> np.ndarray:
    m = (days.astype("datetime64[M]") - days.astype("datetime64[Y]")).astype(np.int64)
    d = (days - days.astype("datetime64[M]")).astype(np.int64)
    return m * 100 + d
