"""The meter registration table: which household each smart water meter watches, its street
and the household's profile, built from the ingested store (meter ids already pseudonymised).

Profiles, most watched first (:data:`~assist.serving.alerts.config.PROFILES`): a person living
alone aged 75+ (``lone_elderly_75``), a member with a grade 1–2 disability
(``severe_disability``), a person living alone aged 60+ (``lone_elderly_60``), a household on
special hardship support, the minimum living allowance or low-income assistance
(``vulnerable``), else ``other``. Vectorised over all meters at once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from assist.errors import InputError
from assist.serving.models import MeterRegistration, utcnow
from assist.storage.store import list_snapshots, load_tables

VULNERABLE_PROGRAMMES = ("tekun", "dibao", "low_income")
SEVERE_GRADE = 2
COLUMNS = ["meter_id", "household_id", "street_code", "community_code", "profile"]


def profiles(meters: pd.DataFrame, persons: pd.DataFrame, disability: pd.DataFrame,
             assistance: pd.DataFrame) -> pd.Series:
    """The profile of each meter's household (``meters``: ``household_id``, ``person_id``)."""
    size = persons.groupby("household_id").size()
    age = persons.set_index("person_id")["age"]
    alone = meters["household_id"].map(size).fillna(0).to_numpy() == 1
    years = meters["person_id"].map(age).astype("Float64").fillna(0).to_numpy(dtype=float)
    severe = meters["household_id"].isin(
        disability.loc[disability["grade"] <= SEVERE_GRADE, "household_id"]).to_numpy()
    vulnerable = meters["household_id"].isin(
        assistance.loc[assistance["programme"].isin(VULNERABLE_PROGRAMMES), "household_id"]
    ).to_numpy()
    out = np.select([alone & (years >= 75), severe, alone & (years >= 60), vulnerable],
                    ["lone_elderly_75", "severe_disability", "lone_elderly_60", "vulnerable"],
                    default="other")
    return pd.Series(out, index=meters.index, name="profile")


def from_store(store: Path, as_of: str | None = None) -> pd.DataFrame:
    """Registrations from the ingested store's latest (or ``as_of``) snapshot: one row per
    meter seen in the water readings, with its household's street and profile."""
    snapshots = list_snapshots(store)
    if not snapshots:
        raise InputError("the store holds no snapshot: run `assist ingest` first", file=str(store))
    month = as_of or snapshots[-1]
    t = load_tables(store, as_of=month, months=1, tables=(
        "households", "persons", "disability", "assistance", "water_readings"))
    water = t["water_readings"].dropna(subset=["meter_id"])
    meters = (water.sort_values("reading_date")
              .drop_duplicates("meter_id", keep="last")[["meter_id", "household_id", "person_id"]]
              .reset_index(drop=True))
    homes = t["households"].drop_duplicates("household_id").set_index("household_id")
    meters = meters[meters["household_id"].isin(homes.index)].reset_index(drop=True)
    meters["street_code"] = meters["household_id"].map(homes["street_code"])
    meters["community_code"] = meters["household_id"].map(homes["community_code"])
    meters["profile"] = profiles(meters, t["persons"], t["disability"], t["assistance"])
    return meters[COLUMNS].astype(str)


def register(session: Session, frame: pd.DataFrame) -> int:
    """Replace the registration table with ``frame`` (committed); how many meters."""
    missing = [c for c in COLUMNS if c not in frame]
    if missing:
        raise InputError("registrations lack a column", column=missing[0])
    now = utcnow()
    rows = [{**r, "registered_at": now} for r in frame[COLUMNS].to_dict("records")]
    session.execute(delete(MeterRegistration))
    for start in range(0, len(rows), 5000):
        session.execute(insert(MeterRegistration), rows[start:start + 5000])
    session.commit()
    return len(rows)
