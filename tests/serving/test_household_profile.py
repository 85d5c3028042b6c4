"""The household page's deprivation and dimension profile are the feature pipeline's.

Features are built from hand-made source tables (household 2 has no financial assets, arrears or
water-meter record: those indicators are missing), loaded as a snapshot, and read back through
the household service, the API and the HTML page. Deprivation must follow each indicator's
missing-value rule exactly as :meth:`Catalog.deprivation` does, and the dimension profile must
be :func:`assist.features.dimension_profile`.
"""

from __future__ import annotations

import dataclasses
import html
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from assist.features import CATALOG, build, dimension_profile
from assist.features.catalog import Catalog, MissingRule
from assist.serving.app import create_app
from assist.serving.auth import Principal
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.services.households import household_detail
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from tests.features.conftest import hid
from tests.features.test_indicators import scenario

AS_OF = "2026-10"
PASSWORD = "correct-horse-battery"
WHO = Principal(user_id=1, username="mgr", role="manager", streets=None)
#: household 2 of the scenario: three indicators missing, deprived on eleven others
HOUSEHOLD = hid(2)
MISSING = ["financial_assets_months", "arrears_months", "water_silent_days"]
#: the built-in catalog, but a household without financial-asset records counts as deprived
MISSING_DEPRIVED = Catalog(
    "missing-deprived", "1",
    tuple(dataclasses.replace(i, missing=MissingRule("deprived", "no record: deprived"))
          if i.id == "financial_assets_months" else i for i in CATALOG),
    dimension_entries=CATALOG.dimension_entries)
DEPRIVATION_ROWS = re.compile(r'id="h-dep".*?<tbody>(.*?)</tbody>', re.S)


@pytest.fixture(scope="module")
def features() -> pd.DataFrame:
    """Indicator values of the scenario's households, as ``assist features`` builds them."""
    return build(scenario(), AS_OF, CATALOG)


@pytest.fixture(scope="module")
def app(features, tmp_path_factory):
    """An API over a store holding one snapshot of the scenario's features, and a manager."""
    url = f"sqlite:///{tmp_path_factory.mktemp('profile') / 'assist.db'}"
    upgrade(url)
    engine = make_engine(url)
    scores = features.assign(street_code="S01", community_code="S01C001", probability=0.5,
                             band="medium", rank_district=[1, 2], deprivation_score=0.3)
    referrals = pd.DataFrame(columns=["street_code", "community_code"])
    with session_factory(engine)() as s:
        load_snapshot(s, as_of=AS_OF, summary={"as_of": AS_OF}, scores=scores,
                      referrals=referrals, indicator_ids=CATALOG.ids)
        add_user(s, username="mgr", password=PASSWORD, role="manager")
    settings = Settings(env="dev", workspace=tmp_path_factory.mktemp("ws"), database_url=url,
                        pseudonym_key=DEV_PSEUDONYM_KEY)
    yield create_app(settings, engine=engine)
    engine.dispose()


def test_the_household_has_missing_indicator_values(features):
    assert features.loc[HOUSEHOLD, MISSING].isna().all()
    assert features.loc[HOUSEHOLD].drop(MISSING).notna().all()


@pytest.mark.parametrize("catalog", [CATALOG, MISSING_DEPRIVED], ids=["builtin", "deprived"])
def test_service_deprivation_and_profile_are_the_features(app, features, catalog):
    with app.state.sessions() as s:
        d = household_detail(s, who=WHO, household_id=HOUSEHOLD, endpoint="test",
                             catalog=catalog)
    want = catalog.deprivation(features).loc[HOUSEHOLD]
    assert {i.id: i.deprived for i in d.indicators} == want.to_dict()
    assert {i.id for i in d.indicators if i.value is None} == set(MISSING)
    profile = dimension_profile(features, catalog).loc[HOUSEHOLD]
    assert [p.dimension for p in d.dimensions] == catalog.dimensions
    assert {p.dimension: p.weighted_deprivation for p in d.dimensions} == pytest.approx(
        profile.to_dict(), abs=1e-12)
    by_dim = {dim: sum(bool(want[i.id]) for i in inds)
              for dim, inds in catalog.by_dimension().items()}
    assert {p.dimension: p.deprived_indicators for p in d.dimensions} == by_dim


def test_missing_rule_decides_a_missing_indicator():
    # hand-worked: no asset record is "not deprived" in the built-in catalog, "deprived" here
    frame = pd.DataFrame({i: [float("nan")] for i in CATALOG.ids})
    assert not CATALOG.deprivation(frame).loc[0, "financial_assets_months"]
    assert MISSING_DEPRIVED.deprivation(frame).loc[0, "financial_assets_months"]


def test_api_deprivation_and_profile_are_the_features(app, features):
    with TestClient(app, base_url="http://127.0.0.1") as c:
        token = c.post("/api/v1/auth/token", json={"username": "mgr", "password": PASSWORD}
                       ).json()["access_token"]
        d = c.get(f"/api/v1/households/{HOUSEHOLD}",
                  headers={"Authorization": f"Bearer {token}"}).json()
    want = CATALOG.deprivation(features).loc[HOUSEHOLD].to_dict()
    assert {i["id"]: i["deprived"] for i in d["indicators"]} == want  # False, not null
    profile = dimension_profile(features).loc[HOUSEHOLD].to_dict()
    assert {p["dimension"]: p["weighted_deprivation"] for p in d["dimensions"]} == pytest.approx(
        profile, abs=1e-12)


def test_page_lists_the_indicators_the_features_find_deprived(app, features):
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as c:
        form = c.get("/login").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        c.post("/login", data={"username": "mgr", "password": PASSWORD, "csrf": csrf})
        page = c.get(f"/households/{HOUSEHOLD}")
    assert page.status_code == 200, page.text
    rows = DEPRIVATION_ROWS.search(page.text).group(1)
    listed = [html.unescape(n) for n in re.findall(r"<tr><td>([^<]*)</td>", rows)]
    deprived = CATALOG.deprivation(features).loc[HOUSEHOLD]
    assert listed == [i.name_zh for i in CATALOG if deprived[i.id]]
