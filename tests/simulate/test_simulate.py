"""The district simulator: file contract, planted invalid rows, calibration, selection bias,
life events, determinism, and a hidden truth that stays out of the extracts."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors as pe
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from rich.table import Table

from assist.errors import InputError
from assist.features import schemas
from assist.simulate import SimulationSummary, simulate
from assist.simulate.invalid import options

END = "2026-10"
MONTHS = ("2026-07", "2026-08", "2026-09", "2026-10")
ARROW_TYPES = {
    "id": pa.string(), "str": pa.string(), "category": pa.string(), "int": pa.int64(),
    "float": pa.float64(), "bool": pa.bool_(), "date": pa.timestamp("ms"),
}
ID_PATTERNS = {
    "household_id": r"HH\d{10}", "person_id": r"P\d{12}", "claim_id": r"CL\d{12}",
    "appeal_id": r"AP\d{10}", "grant_id": r"GR\d{10}", "verification_id": r"VF\d{10}",
    "meter_id": r"WMP\d{12}",
}


@dataclass(frozen=True)
class Run:
    """A simulated district on disk."""

    out: Path
    truth: Path
    summary: SimulationSummary

    def read(self, table: str, snapshot: str, clean: bool = True) -> pd.DataFrame:
        """One extract; ``clean`` drops the planted invalid rows."""
        df = pd.read_parquet(self.out / table / f"{snapshot}.parquet")
        if clean:
            df = df.drop(index=self.planted_rows(table, snapshot))
        return df

    def all(self, table: str) -> pd.DataFrame:
        """All snapshots of a table, planted rows dropped."""
        return pd.concat([self.read(table, s) for s in self.summary.snapshots], ignore_index=True)

    def planted(self) -> pd.DataFrame:
        """The planted invalid rows listed in the truth folder."""
        return _planted(self.truth / "planted_invalid.parquet").copy()

    def planted_rows(self, table: str, snapshot: str) -> list[int]:
        """Row numbers of the planted rows of one file."""
        p = _planted(self.truth / "planted_invalid.parquet")
        return sorted(p.loc[(p.table == table) & (p.snapshot == snapshot), "row"].astype(int))

    def need(self) -> pd.DataFrame:
        """The hidden truth of need."""
        return pd.read_parquet(self.truth / "need.parquet")


@functools.cache
def _planted(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path)


def _simulate(root: Path, households: int, months: int, seed: int,
              invalid_rate: float = 0.002) -> Run:
    summary = simulate(households=households, months=months, seed=seed, end_month=END,
                       out=root / "out", truth_out=root / "truth", invalid_rate=invalid_rate)
    return Run(root / "out", root / "truth", summary)


@pytest.fixture(scope="module")
def district(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """3,000 households, July to October (September starts a school year)."""
    return _simulate(tmp_path_factory.mktemp("district"), 3000, 4, seed=11, invalid_rate=0.01)


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """The same district again: same seed, same arguments."""
    return _simulate(tmp_path_factory.mktemp("twin"), 3000, 4, seed=11, invalid_rate=0.01)


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A small district with a fifth of every file broken."""
    return _simulate(tmp_path_factory.mktemp("dense"), 400, 2, seed=5, invalid_rate=0.2)


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A larger clean district for rates and selection effects."""
    return _simulate(tmp_path_factory.mktemp("large"), 20_000, 4, seed=3, invalid_rate=0.0)


def _failing_rows(table: str, df: pd.DataFrame) -> set[int]:
    try:
        schemas.raw_schema(table).validate(df, lazy=True)
    except pe.SchemaErrors as exc:
        cases = exc.failure_cases
        assert cases["index"].notna().all(), cases[cases["index"].isna()]
        return set(cases["index"].astype(int))
    return set()


# --- file contract ------------------------------------------------------------------------

def test_every_table_and_month_is_written_with_declared_columns_and_types(district: Run):
    assert district.summary.snapshots == list(MONTHS)
    for name, spec in schemas.TABLES.items():
        for snapshot in MONTHS:
            schema = pq.read_schema(district.out / name / f"{snapshot}.parquet")
            assert schema.names == spec.column_names, name
            assert [schema.field(c.name).type for c in spec.columns] == \
                [ARROW_TYPES[c.kind] for c in spec.columns], name


def test_out_holds_only_the_extracts(district: Run):
    files = {p.relative_to(district.out).as_posix() for p in district.out.rglob("*")
             if p.is_file()}
    assert files == {f"{t}/{s}.parquet" for t in schemas.TABLES for s in MONTHS}
    for f in district.out.rglob("*.parquet"):
        meta = pq.read_metadata(f).metadata or {}
        assert set(meta) <= {b"ARROW:schema"}, f
        names = " ".join(pq.read_schema(f).names)
        assert not re.search(r"need|cause|truth|score|planted", names), f


def test_truth_folder_holds_need_causes_and_planted_rows(district: Run):
    need = district.need()
    causes = [c for c in need.columns if c.startswith("cause_")]
    assert len(causes) == 8
    assert {"household_id", "snapshot", "true_need", "need_score", "primary_cause"} <= set(need)
    assert (need.true_need == (need.need_score > 0)).all()
    assert need.loc[need.true_need, "primary_cause"].notna().all()
    assert need.loc[~need.true_need, "primary_cause"].isna().all()
    assert not need.loc[~need.true_need, causes].any().any()
    summary = json.loads((district.truth / "summary.json").read_text())
    assert summary["calibration"]["true_need_rate"] == pytest.approx(
        district.summary.calibration["true_need_rate"])


@pytest.mark.parametrize("run_name", ["district", "dense"])
def test_clean_rows_pass_and_exactly_the_planted_rows_fail(run_name: str,
                                                           request: pytest.FixtureRequest):
    # one validation per table over all months (clean keys are unique across files, so
    # stacking the files changes no verdict and keeps the test fast)
    run: Run = request.getfixturevalue(run_name)
    for name in schemas.TABLES:
        frames = [run.read(name, s, clean=False) for s in run.summary.snapshots]
        offsets = np.cumsum([0] + [len(f) for f in frames])
        failing = _failing_rows(name, pd.concat(frames, ignore_index=True))
        for i, snapshot in enumerate(run.summary.snapshots):
            here = {r - offsets[i] for r in failing if offsets[i] <= r < offsets[i + 1]}
            assert here == set(run.planted_rows(name, snapshot)), (name, snapshot)


def test_planted_rows_cover_every_kind_and_every_table(district: Run, dense: Run):
    planted = district.planted()
    for name in ("households", "persons", "employment", "water_readings"):
        kinds = set(planted.loc[planted.table == name, "kind"])
        assert kinds == set(options(schemas.TABLES[name])), name
    assert set(dense.planted().table) == set(schemas.TABLES)
    rate = len(planted) / sum(sum(v.values()) for v in district.summary.rows.values())
    assert 0.007 < rate < 0.013
    counts = district.summary.invalid
    assert sum(sum(v.values()) for v in counts.values()) == len(planted)


def test_identifiers_are_well_formed_and_id_numbers_carry_birth_dates(district: Run):
    for name, spec in schemas.TABLES.items():
        df = district.read(name, MONTHS[-1])
        for col in (c.name for c in spec.columns if c.kind == "id"):
            assert df[col].str.fullmatch(ID_PATTERNS[col]).all(), (name, col)
    persons = district.read("persons", MONTHS[-1])
    assert persons.person_id.is_unique
    ids = persons.id_number.dropna()
    assert ids.str.fullmatch(r"\d{17}[\dX]").all()
    digits = np.array([list(map(int, s[:17])) for s in ids])
    weights = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
    assert (ids.str[17] == np.array(list("10X98765432"))[(digits @ weights) % 11]).all()
    born = pd.to_datetime(ids.str[6:14], format="%Y%m%d")
    as_of = persons.loc[ids.index, "as_of_date"]
    age = as_of.dt.year - born.dt.year - ((as_of.dt.month * 100 + as_of.dt.day)
                                          < (born.dt.month * 100 + born.dt.day))
    assert (age == persons.loc[ids.index, "age"]).all()
    odd = ids.str[16].astype(int) % 2 == 1
    assert ((persons.loc[ids.index, "sex"] == "M") == odd).all()


def test_every_record_belongs_to_a_household_of_the_same_month(large: Run):
    def column(table: str, snapshot: str, name: str) -> pa.ChunkedArray:
        return pq.read_table(large.out / table / f"{snapshot}.parquet", columns=[name])[name]

    for snapshot in (MONTHS[0], MONTHS[-1]):
        hh = column("households", snapshot, "household_id").combine_chunks()
        persons = column("persons", snapshot, "person_id").combine_chunks()
        for name, spec in schemas.TABLES.items():
            ids = column(name, snapshot, "household_id")
            assert pc.all(pc.is_in(ids, value_set=hh)).as_py(), (name, snapshot)
            if spec.level == "person" and name != "medical_claims":
                ids = column(name, snapshot, "person_id")
                assert pc.all(pc.is_in(ids, value_set=persons)).as_py(), (name, snapshot)


# --- calibration --------------------------------------------------------------------------

def test_households_and_people_match_published_figures(district: Run):
    persons = district.read("persons", MONTHS[0])
    size = persons.groupby("household_id").size()
    assert 2.3 < size.mean() < 2.5
    assert (persons.age >= 60).mean() > 0.28
    lone = size[size == 1].index
    lone_elderly = persons[persons.household_id.isin(lone) & (persons.age >= 60)]
    assert 0.12 < len(lone_elderly) / len(size) < 0.16
    households = district.read("households", MONTHS[0])
    assert 0.18 < (households.registration_type == "non_local").mean() < 0.32
    assert households.street_code.nunique() == 13
    assert households.community_code.nunique() > 250
    sizes = households.street_code.value_counts()
    assert sizes.max() > 1.5 * sizes.min()
    children = persons[(persons.relation == "child") & (persons.age < 18)]
    assert children.household_id.nunique() / len(size) > 0.15
    income = district.read("income", MONTHS[0]).set_index("household_id").monthly_income
    per_person = (income / size.reindex(income.index)).dropna()
    assert 4500 < per_person.median() < 6500
    assert (per_person < 1510).mean() > 0.02


def test_truth_rates_assistance_and_errors_are_in_range(large: Run):
    need = large.need()
    grants = large.all("assistance")
    for snapshot, month in need.groupby("snapshot"):
        assert 0.04 < month.true_need.mean() < 0.06, snapshot
        assisted = set(grants.loc[grants.snapshot == snapshot, "household_id"])
        is_assisted = month.household_id.isin(assisted)
        assert 0.015 < is_assisted.mean() < 0.03, snapshot
        inclusion = (~month.true_need[is_assisted]).mean()
        assert 0.05 < inclusion < 0.25, snapshot
        exclusion = (~is_assisted[month.true_need]).mean()
        assert exclusion > 0.5, snapshot
    assert set(grants.programme) <= set(schemas.TABLES["assistance"].col("programme").allowed)
    assert grants.groupby("programme").monthly_amount.median().between(100, 6000).all()


def test_causes_shape_the_department_records(large: Run):
    need = large.need()
    last = need[need.snapshot == MONTHS[-1]].set_index("household_id")
    assert last.loc[last.true_need, "primary_cause"].nunique() == 8
    claims = large.all("medical_claims")
    oop = claims.groupby("household_id").out_of_pocket.sum().reindex(last.index, fill_value=0)
    ill = last.cause_illness
    assert oop[ill].median() > 3 * oop[~last.true_need].median()
    inpatient = claims[claims.inpatient].household_id.unique()
    assert last.index.isin(inpatient)[ill].mean() > 2 * last.index.isin(inpatient)[
        ~last.true_need].mean()
    income = large.read("income", MONTHS[-1]).set_index("household_id")
    assert income.monthly_income[last.true_need].median() < 0.6 * income.monthly_income[
        ~last.true_need].median()
    assert (income.arrears_months[last.true_need] > 0).mean() > 3 * (
        income.arrears_months[~last.true_need] > 0).mean()
    jobs = large.read("employment", MONTHS[-1])
    unemployed = jobs[jobs.registered_unemployed].household_id.unique()
    registered = last.index.isin(unemployed)
    assert registered[last.cause_unemployment].mean() > 5 * registered[~last.true_need].mean()
    # no single record decides need: a household with no income record signal can be in need
    rich = income.monthly_income > income.monthly_income.median()
    assert (last.true_need & rich).sum() > 0


def test_missing_values_are_realistic(district: Run):
    income = district.all("income")
    assert 0.01 < income.monthly_income.isna().mean() < 0.035
    assert 0.03 < income.financial_assets.isna().mean() < 0.07
    housing = district.all("housing")
    assert 0.01 < housing.floor_area_m2.isna().mean() < 0.035
    persons = district.all("persons")
    assert 0.02 < persons.education_level.isna().mean() < 0.045
    water = district.all("water_readings")
    assert 0.005 < water.litres.isna().mean() < 0.02


# --- selection of verified households ------------------------------------------------------

def test_visits_only_follow_applications_referrals_or_reviews(large: Run):
    grants = large.all("assistance")
    visits = large.all("verifications")
    assert len(visits) > 100
    assert set(visits.trigger) == {"application", "referral", "routine_review"}
    for snapshot, v in visits.groupby("snapshot"):
        g = grants[grants.snapshot == snapshot]
        start = pd.Timestamp(f"{snapshot}-01")
        ongoing = set(g.loc[g.end_date.isna() | (g.end_date >= start + pd.offsets.MonthEnd(0))
                            , "household_id"])
        reviewed = v[v.trigger == "routine_review"].household_id
        assert reviewed.isin(set(g.household_id)).all()
        ongoing_before = set(g.loc[(g.start_date <= start) & (
            g.end_date.isna() | (g.end_date > start)), "household_id"])
        sought = v[v.trigger != "routine_review"].household_id
        assert not sought.isin(ongoing_before).any()
        assert ongoing  # grants exist every month
    households = large.read("households", MONTHS[-1])
    assert visits.household_id.nunique() < 0.1 * len(households)


def test_selection_bias_makes_labels_selective(large: Run):
    need = large.need()
    visits = large.all("verifications")
    grants = large.all("assistance")
    persons = large.all("persons")
    households = large.all("households")
    size = persons.groupby(["snapshot", "household_id"]).agg(n=("age", "size"),
                                                             old=("age", "min"))
    lone = size[(size.n == 1) & (size.old >= 60)].index
    frame = need.merge(households[["snapshot", "household_id", "registration_type"]],
                       on=["snapshot", "household_id"])
    frame["lone_elderly"] = pd.MultiIndex.from_frame(frame[["snapshot", "household_id"]]).isin(lone)
    sought = visits[visits.trigger != "routine_review"]
    frame["sought"] = pd.MultiIndex.from_frame(frame[["snapshot", "household_id"]]).isin(
        pd.MultiIndex.from_frame(sought[["snapshot", "household_id"]]))
    frame["assisted"] = pd.MultiIndex.from_frame(frame[["snapshot", "household_id"]]).isin(
        pd.MultiIndex.from_frame(grants[["snapshot", "household_id"]]))
    pool = frame[frame.true_need & ~frame.assisted]
    local = pool[pool.registration_type == "local"].sought.mean()
    non_local = pool[pool.registration_type == "non_local"].sought.mean()
    assert local > 1.5 * non_local
    others = pool[~pool.lone_elderly & (pool.registration_type == "local")]
    assert others.sought.mean() > 1.5 * pool[pool.lone_elderly].sought.mean()
    outcome = visits.merge(need, on=["snapshot", "household_id"])
    confirmed = outcome.outcome == "confirmed"
    assert confirmed[outcome.true_need].mean() > 0.7
    assert confirmed[~outcome.true_need].mean() < 0.2
    assert (outcome.outcome.isin(["unreachable", "declined"])).any()
    # far fewer households are visited than are in need: the labels are selective
    assert outcome.household_id.nunique() < need[need.true_need].household_id.nunique()


# --- life events ----------------------------------------------------------------------------

def test_need_moves_from_month_to_month(large: Run):
    need = large.need().pivot(index="household_id", columns="snapshot", values="true_need")
    both = need[[MONTHS[0], MONTHS[-1]]].dropna().astype(bool)
    assert (both[MONTHS[0]] & ~both[MONTHS[-1]]).sum() > 20
    assert (~both[MONTHS[0]] & both[MONTHS[-1]]).sum() > 20


def test_people_age_die_start_school_and_lose_jobs(large: Run):
    aug, sep = large.read("persons", "2026-08"), large.read("persons", "2026-09")
    ages = aug.set_index("person_id").age.to_frame("aug").join(
        sep.set_index("person_id").age.rename("sep"), how="inner")
    step = ages.sep - ages.aug
    assert set(step.unique()) == {0, 1}
    assert 0.05 < step.mean() < 0.12
    gone = set(aug.person_id) - set(sep.person_id)
    assert gone and not set(sep.person_id) - set(aug.person_id)
    assert set(aug.household_id) > set(sep.household_id)  # lone people died
    school = {m: large.read("school_enrolment", m).set_index("person_id") for m in ("2026-08",
                                                                                    "2026-09")}
    moved = school["2026-08"].school_level.to_frame("aug").join(
        school["2026-09"].school_level.rename("sep"), how="inner")
    assert ((moved.aug == "kindergarten") & (moved.sep == "primary")).sum() > 50
    assert ((moved.aug == "kindergarten") & (moved.sep == "kindergarten")).sum() > 50
    jobs = large.all("employment")
    since = jobs.dropna(subset=["unemployed_since"])
    fresh = since[since.unemployed_since.dt.strftime("%Y-%m") == since.snapshot]
    assert len(fresh) > 20
    assert (since.unemployed_since <= since.as_of_date).all()
    claims = large.read("medical_claims", "2026-09")
    assert (claims.service_date.dt.strftime("%Y-%m") == "2026-08").any()  # settled late


def test_person_tables_cover_the_right_ages(large: Run):
    persons = large.read("persons", MONTHS[-1]).set_index("person_id")
    for table, lo, hi in (("employment", 16, 64), ("school_enrolment", 3, 18)):
        df = large.read(table, MONTHS[-1])
        age = persons.age.reindex(df.person_id)
        assert age.between(lo, hi).all(), table
        eligible = persons[persons.age.between(lo, hi)]
        assert len(df) == len(eligible), table
    water = large.read("water_readings", MONTHS[-1])
    age = persons.age.reindex(water.person_id.unique())
    assert (age >= 65).all()
    lone = persons.groupby("household_id").size()
    assert (lone.reindex(water.household_id.unique()) == 1).all()
    monitored = water.person_id.nunique()
    lone_old = persons[persons.household_id.isin(lone[lone == 1].index) & (persons.age >= 65)]
    assert 0.4 < monitored / len(lone_old) < 0.75
    used = water.litres.dropna()
    assert 100 < used[used > 0].median() < 300
    assert 0.005 < (used == 0).mean() < 0.15


# --- determinism, summary and arguments ---------------------------------------------------

def test_same_seed_gives_byte_identical_files(district: Run, twin: Run):
    for folder, other in ((district.out, twin.out), (district.truth, twin.truth)):
        files = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(other) for p in other.rglob("*") if p.is_file())
        for f in files:
            assert (folder / f).read_bytes() == (other / f).read_bytes(), f


def test_another_seed_gives_another_district(district: Run, tmp_path: Path):
    other = _simulate(tmp_path, 3000, 1, seed=12, invalid_rate=0.01)
    mine = (district.out / "persons" / f"{END}.parquet").read_bytes()
    assert (other.out / "persons" / f"{END}.parquet").read_bytes() != mine


def test_summary_counts_rows_and_renders(district: Run):
    s = district.summary
    for name in schemas.TABLES:
        for snapshot in MONTHS:
            assert s.rows[name][snapshot] == pq.read_metadata(
                district.out / name / f"{snapshot}.parquet").num_rows
    for key in ("mean_household_size", "share_aged_60_plus", "share_lone_elderly",
                "true_need_rate", "assisted_rate", "exclusion_error_share",
                "verified_households"):
        assert key in s.calibration
    json.dumps(s.to_dict())
    assert isinstance(s.table(), Table)


@pytest.mark.parametrize("kwargs, message", [
    ({"end_month": "2026-13"}, "YYYY-MM"),
    ({"months": 0}, "months"),
    ({"households": 0}, "households"),
    ({"invalid_rate": 0.9}, "invalid_rate"),
    ({"end_month": "2015-01"}, "minimum-living line"),
])
def test_bad_arguments_are_reported_plainly(tmp_path: Path, kwargs: dict, message: str):
    args = {"households": 10, "months": 1, "seed": 1, "out": tmp_path / "o",
            "truth_out": tmp_path / "t"} | kwargs
    with pytest.raises(InputError, match=message):
        simulate(**args)


def test_truth_inside_the_extracts_and_stale_months_are_refused(tmp_path: Path):
    with pytest.raises(InputError, match="truth"):
        simulate(households=10, months=1, seed=1, out=tmp_path, truth_out=tmp_path / "truth")
    simulate(households=10, months=2, seed=1, out=tmp_path / "o", truth_out=tmp_path / "t")
    with pytest.raises(InputError, match="other months"):
        simulate(households=10, months=1, seed=1, end_month="2026-05", out=tmp_path / "o",
                 truth_out=tmp_path / "t")
    # the same months again overwrite in place
    simulate(households=10, months=2, seed=2, out=tmp_path / "o", truth_out=tmp_path / "t")
