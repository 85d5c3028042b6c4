"""A flat-table district end to end: its own household table and YAML catalog, trained with
``data.source: table``, scored with ``assist score --table --catalog``, loaded into a SQLite
case store and read back through the API as referral lists.

The table is hand-made (1,200 households in 3 streets and 6 communities): four indicators named
as the built-in programme facts (so dibao, low-income, medical and employment rules can match),
one of the district's own (``rooms_per_member``, an expression), a household ``size``, and a
0/1 verified-need column that is the label.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from assist.cli.app import app as cli
from assist.cli.serving import load_current
from assist.errors import ConfigError
from assist.features.custom import load_catalog
from assist.features.jurisdiction import load_jurisdiction
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.storage import snapshot

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
AS_OF = "2026-03"
MODEL = "own-table-model"
INCOME_NAME = "Income per head vs the minimum-living line"
#: the store path's snapshot columns besides the indicators (see assist.pipelines.score)
SCORE_COLUMNS = ["street_code", "community_code", "raw_score", "probability", "band",
                 "deprivation_score", "deprivation_poor", "head_sex", "head_age_band",
                 "head_hukou", "has_disability", "rank_district", "rank_street",
                 "rank_community", "referable_programmes", "candidate", "allocated", "warning",
                 "last_outcome", "last_decision_date", "listing", "listing_zh", "listing_en",
                 "selection", "propensity",
                 "primary_cause", "secondary_cause", "top_factors_en", "top_factors_zh"]
INDICATORS = [
    {"id": "income_per_capita_ratio", "column": "income_per_capita_ratio", "dimension": "income",
     "direction": -1, "cutoff": 1.0, "weight": 0.3, "cause": "income_loss",
     "name_en": INCOME_NAME, "name_zh": "人均收入与低保标准之比"},
    {"id": "financial_assets_months", "column": "assets_months", "dimension": "income",
     "direction": -1, "cutoff": 24, "weight": 0.2, "cause": "income_loss",
     "name_en": "Financial assets in months of the minimum-living line"},
    {"id": "unemployed_share", "column": "unemployed_share", "dimension": "employment",
     "direction": 1, "cutoff": 0.0, "weight": 0.2, "cause": "unemployment",
     "name_en": "Share of working-age members unemployed"},
    {"id": "members_major_or_chronic", "column": "chronic", "dimension": "health",
     "direction": 1, "cutoff": 0.5, "weight": 0.15, "cause": "illness",
     "name_en": "Members with a major or chronic illness"},
    {"id": "rooms_per_member", "expr": "rooms / size", "dimension": "housing", "direction": -1,
     "cutoff": 0.5, "weight": 0.15, "cause": "housing", "name_en": "Rooms per member"},
]


def _table(n: int = 1200) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    community = rng.integers(0, 6, n)
    df = pd.DataFrame({
        "hh": [f"H{i:05d}" for i in range(n)],
        "street": [f"S{c // 2 + 1}" for c in community],
        "community": [f"C{c + 1}" for c in community],
        "income_per_capita_ratio": rng.gamma(2.0, 0.9, n),
        "assets_months": rng.exponential(30.0, n),
        "unemployed_share": rng.choice([0.0, 0.5, 1.0], n, p=[0.75, 0.15, 0.1]),
        "chronic": rng.poisson(0.3, n).astype(float),
        "rooms": rng.integers(1, 5, n).astype(float),
        "size": rng.integers(1, 6, n).astype(float),
    })
    risk = (-1.6 * df["income_per_capita_ratio"] - 0.02 * df["assets_months"]
            + 1.2 * df["unemployed_share"] + 0.8 * df["chronic"]
            - 0.4 * df["rooms"] / df["size"] + rng.normal(0, 0.6, n))
    df["verified_need"] = (risk > np.quantile(risk, 0.75)).astype(int)
    return df


def _catalog(path: Path, **changes: object) -> Path:
    spec = {"name": "own-district", "version": "2", "indicators": INDICATORS,
            "jurisdiction": {"street": "street", "community": "community"}} | changes
    path.write_text(yaml.safe_dump({k: v for k, v in spec.items() if v is not None},
                                   allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def district(tmp_path_factory) -> dict[str, object]:
    """Workspace with the table, its catalog, a small scoring config and a trained model."""
    ws = tmp_path_factory.mktemp("flat")
    table = ws / "district.csv"
    _table().to_csv(table, index=False)
    catalog = _catalog(ws / "catalog.yaml")
    scoring = yaml.safe_load((ROOT / "experiments" / "scoring.yaml").read_text(encoding="utf-8"))
    scoring["allocation"]["streets"] = {"default": {"visits": 12, "floor": 2}}
    (ws / "scoring.yaml").write_text(yaml.safe_dump(scoring), encoding="utf-8")
    (ws / "train.yaml").write_text(yaml.safe_dump({
        "config_version": 1, "name": "own-table", "model": {"n_estimators": 30},
        "data": {"source": "table", "table": str(table), "catalog": str(catalog),
                 "label": "verified_need", "id_column": "hh"},
        "gate": {"attributes": []},
        "tracking": {"experiment": "own-table", "registered_model": MODEL}}), encoding="utf-8")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY, "ASSIST_MLFLOW_TRACKING_URI": ""}
    res = CliRunner().invoke(cli, ["train", "--config", str(ws / "train.yaml")], env=env,
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    return {"ws": ws, "table": table, "catalog": catalog, "env": env}


def _score(district: dict, *extra: str, table: Path | None = None,
           catalog: Path | None = None) -> tuple[int, str]:
    args = ["score", "--table", str(table or district["table"]),
            "--catalog", str(catalog or district["catalog"]), "--as-of", AS_OF,
            "--model", "1", "--model-name", MODEL, "--id-column", "hh",
            "--config", str(district["ws"] / "scoring.yaml"), *extra]
    res = CliRunner().invoke(cli, args, env=district["env"], terminal_width=200)
    return res.exit_code, " ".join(res.output.split())


@pytest.fixture(scope="module")
def scored(district) -> str:
    code, out = _score(district)
    assert code == 0, out
    return out


def test_score_writes_a_snapshot_like_the_store_path(district, scored):
    scores_dir = district["ws"] / "scores"
    assert snapshot.current(scores_dir) == AS_OF
    files = snapshot.read_snapshot(scores_dir, AS_OF)
    s, r, sm = files.scores, files.referrals, files.summary
    ids = [i["id"] for i in INDICATORS]
    assert list(s.columns) == SCORE_COLUMNS + ids and len(s) == 1200
    assert s.index[0].startswith("H") and set(s["street_code"]) == {"S1", "S2", "S3"}
    for col in ("rank_street", "rank_community"):  # 1..n within each street and community
        key = "street_code" if col == "rank_street" else "community_code"
        assert all(sorted(g) == list(range(1, len(g) + 1)) for _, g in s.groupby(key)[col])
    assert s["probability"].between(0, 1).all() and s["deprivation_score"].between(0, 1).all()
    allocated = r[r["allocated"]]
    assert 6 <= len(allocated) <= 36 and set(allocated["street_code"]) == {"S1", "S2", "S3"}
    assert all(len(f) > 0 for f in allocated["top_factors_en"])
    named = {f.split(":")[0] for fs in r["top_factors_en"] for f in fs}
    assert INCOME_NAME in named and named <= {i.get("name_en") for i in INDICATORS}
    assert set(r["primary_cause"].dropna()) <= {"income_loss", "unemployment", "illness",
                                                 "housing"}
    assert {p for ps in allocated["allocated_programmes"] for p in ps} <= {
        "dibao", "low_income", "medical", "employment", "expenditure", "charity", "temporary"}
    assert sm["catalog"] == {"name": "own-district", "version": "2", "indicators": ids}
    assert sm["catalog_version"] == "2" and sm["model_version"] == f"{MODEL}/1"
    assert sm["flags"] is None and sm["households_scored"] == 1200
    notes = " ".join(sm["notes"])
    assert "programme 'tekun' not matched: the catalog lacks the fact(s)" in notes
    assert "ranked per street (column 'street') and community (column 'community')" in notes
    assert "no early-warning flags" in notes
    assert "1,200 households scored as of 2026-03" in scored
    assert "programme 'education' not matched" in scored


def test_snapshot_loads_into_the_case_store_and_the_api_lists_referrals(district, scored):
    ws = district["ws"]
    s = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY,
                 mlflow_tracking_uri=None)
    upgrade(s.db_url)
    month, changed, counts = load_current(s)
    assert (month, changed, counts["households"]) == (AS_OF, True, 1200)
    referrals = snapshot.read_referrals(ws / "scores", AS_OF)
    engine = make_engine(s.db_url)
    with session_factory(engine)() as session:
        add_user(session, username="mgr", password="password-123", role="manager")
        add_user(session, username="cw1", password="password-123", role="caseworker",
                 streets=["S1"])
    try:
        with TestClient(create_app(s, engine=engine), base_url="http://127.0.0.1") as client:
            def items(user: str) -> list[dict]:
                tok = client.post("/api/v1/auth/token", json={
                    "username": user, "password": "password-123"}).json()["access_token"]
                res = client.get("/api/v1/referrals", params={"page_size": 200},
                                 headers={"Authorization": f"Bearer {tok}"})
                assert res.status_code == 200, res.text
                return res.json()["items"]

            everyone, own = items("mgr"), items("cw1")
            hid = next(i["household_id"] for i in everyone if i["allocated"])
            detail = client.get(f"/api/v1/households/{hid}", headers={
                "Authorization": "Bearer " + client.post("/api/v1/auth/token", json={
                    "username": "mgr", "password": "password-123"}).json()["access_token"]})
            assert detail.status_code == 200, detail.text
            pages = _pages(client, hid)
    finally:
        engine.dispose()
    assert {i["household_id"] for i in everyone} == set(referrals.index)
    assert own and {i["street_code"] for i in own} == {"S1"}
    first = next(i for i in everyone if i["allocated"])
    expected = referrals.loc[first["household_id"]]
    assert first["top_factors_en"] == list(expected["top_factors_en"])
    assert first["rank_street"] == expected["rank_street"]
    # the pages: the list names the household, its page the YAML catalog's factor (zh name)
    assert hid in pages["/referrals"]
    assert "人均收入与低保标准之比：" in pages[f"/households/{hid}"]


def _pages(client: TestClient, household_id: str) -> dict[str, str]:
    """The manager's referral list and household page, signed in through the login form."""
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": "mgr", "password": "password-123",
                                    "csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303, r.text
    out = {}
    for path in ("/referrals", f"/households/{household_id}"):
        res = client.get(path)
        assert res.status_code == 200, (path, res.text[-2000:])
        out[path] = res.text
    return out


def test_a_model_of_another_catalog_is_refused_in_one_line(district, tmp_path):
    for name, changes, words in (
            ("version", {"version": "3"}, "trained with catalog version '2'"),
            ("name", {"name": "elsewhere"}, "trained with catalog 'own-district'"),
            ("ids", {"indicators": INDICATORS[:-1] + [INDICATORS[-1] | {"id": "rooms_pp"}]},
             "rooms_pp")):
        code, out = _score(district, "--out", str(tmp_path / "scores"),
                           catalog=_catalog(tmp_path / f"{name}.yaml", **changes))
        assert code == 2 and "error: the model does not fit catalog file" in out, out
        assert words in out and "Traceback" not in out, out
    assert not (tmp_path / "scores").exists()


def test_a_table_missing_a_catalog_column_names_it(district, tmp_path):
    bad = tmp_path / "district.parquet"
    pd.read_csv(district["table"]).drop(columns=["assets_months"]).to_parquet(bad)
    code, out = _score(district, "--out", str(tmp_path / "scores"), table=bad)
    assert code == 2 and "Traceback" not in out, out
    assert ("indicator 'financial_assets_months', field 'column': 'assets_months' is not a "
            f"column of table {bad}") in out
    code, out = _score(district, "--out", str(tmp_path / "scores"), "--street-column", "town")
    assert code == 2 and "'town' (--street-column) is not a column of the table" in out, out


def test_without_jurisdiction_the_table_is_one_street(district, tmp_path):
    plain = _catalog(tmp_path / "plain.yaml", jurisdiction=None)
    code, out = _score(district, "--out", str(tmp_path / "scores"), catalog=plain)
    assert code == 0, out
    assert "the table declares no street or community column: ranked as one street 'all'" in out
    s = snapshot.read_scores(tmp_path / "scores", AS_OF)
    assert set(s["street_code"]) == {"all"} and (s["rank_street"] == s["rank_district"]).all()


def test_month_column_and_bad_months(district, tmp_path):
    df = pd.read_csv(district["table"])
    two = pd.concat([df.assign(snapshot="2026-02"), df.assign(snapshot=AS_OF)])
    table = tmp_path / "months.csv"
    two.to_csv(table, index=False)
    args = ["score", "--table", str(table), "--catalog", str(district["catalog"]),
            "--model", "1", "--model-name", MODEL, "--out", str(tmp_path / "scores")]
    # without --id-column: row numbers, and the output says so
    res = CliRunner().invoke(cli, args, env=district["env"], terminal_width=200)
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "scores" / AS_OF / "summary.json").read_text("utf-8"))
    assert any("month 2026-03: 1,200 of 2,400 rows (column 'snapshot')" in n
               for n in summary["notes"])
    assert "household ids are row numbers" in " ".join(res.output.split())
    res = CliRunner().invoke(cli, [*args, "--as-of", "2025-12"], env=district["env"],
                             terminal_width=200)
    assert res.exit_code == 2 and "no rows of month 2025-12" in res.output, res.output
    res = CliRunner().invoke(cli, ["score", "--table", str(table)], env=district["env"])
    assert res.exit_code == 2 and "--table and --catalog go together" in res.output
    res = CliRunner().invoke(cli, [*args, "--engine", "spark"], env=district["env"])
    assert res.exit_code == 2 and "drop --engine spark" in res.output, res.output


def test_jurisdiction_section_is_validated(tmp_path):
    good = _catalog(tmp_path / "good.yaml", jurisdiction={"street": "town"})
    assert load_catalog(good).ids == [i["id"] for i in INDICATORS]
    assert load_jurisdiction(good).model_dump() == {"street": "town", "community": None}
    bad = _catalog(tmp_path / "bad.yaml", jurisdiction={"community": "village"})
    with pytest.raises(ConfigError, match=r"field 'jurisdiction.street' is required"):
        load_catalog(bad)
