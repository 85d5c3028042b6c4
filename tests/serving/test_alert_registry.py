"""The meter registration table: profiles by hand-worked households, and the table built from
an ingested store (meter ids pseudonymised at ingest, never raw)."""

from __future__ import annotations

import pandas as pd
from rich.progress import Progress

from assist.ingest.pseudonym import pseudonym
from assist.ingest.run import ingest
from assist.serving.alerts.registry import from_store, profiles
from tests.conftest import HOUSEHOLD_IDS, SNAPSHOTS


def test_profiles_most_watched_first():
    meters = pd.DataFrame({"household_id": ["a", "b", "c", "d", "e", "f"],
                           "person_id": ["a1", "b1", "c1", "d1", "e1", "f1"]})
    persons = pd.DataFrame({"household_id": ["a", "b", "c", "d", "e", "e", "f"],
                            "person_id": ["a1", "b1", "c1", "d1", "e1", "e2", "f1"],
                            "age": [80, 66, 59, 80, 70, 68, 75]})
    disability = pd.DataFrame({"household_id": ["d", "e", "c"], "grade": [1, 2, 3]})
    assistance = pd.DataFrame({"household_id": ["c", "f"], "programme": ["dibao", "medical"]})
    got = profiles(meters, persons, disability, assistance)
    assert list(got) == ["lone_elderly_75", "lone_elderly_60", "vulnerable", "lone_elderly_75",
                         "severe_disability", "lone_elderly_75"]


def test_registrations_from_the_ingested_store(raw, key, tmp_path):
    water = raw.frame("water_readings", SNAPSHOTS[-1])
    for row in range(len(water)):  # every monitored person has a meter in the last month
        raw.set("water_readings", row, SNAPSHOTS[-1], meter_id=f"WM{water.person_id[row]}")
    source = raw.write(tmp_path / "source")
    with Progress(disable=True) as progress:
        ingest(source=source, out=tmp_path / "store", key=key, progress=progress)
    table = from_store(tmp_path / "store")
    persons = raw.frame("persons", SNAPSHOTS[-1])
    assert len(table) == persons.household_id.isin(HOUSEHOLD_IDS).sum() == len(water) // 2
    assert table.meter_id.str.fullmatch(r"m[0-9a-f]{20}").all()
    meter = pseudonym(f"WM{water.person_id[0]}", kind="meter", key=key)
    homes = raw.frame("households", SNAPSHOTS[-1]).set_index("household_id")
    first = pseudonym(water.household_id[0], kind="household", key=key)
    row = table.set_index("meter_id").loc[meter]
    assert row.household_id == first and row.street_code == homes.street_code[
        water.household_id[0]]
    assert set(table.profile) <= {"severe_disability", "vulnerable", "other"}
