"""The lean read paths give the answers of the plain ones: the household detail from the profile
stored at load equals the profile computed on demand; JSON columns parsed by pydantic-core read
back what the standard parser reads; LIKE filters take codes literally; the list, read in one
statement, still counts and pages right on every back end."""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from assist.features import CATALOG
from assist.serving.auth import Principal
from assist.serving.db import json_loads
from assist.serving.models import HouseholdScore, Snapshot
from assist.serving.services.households import household_detail, household_profile
from assist.serving.services.referrals import Filters, _like, list_referrals
from tests.serving.conftest import AS_OF, HOUSEHOLDS

API = "/api/v1"
MANAGER = Principal(user_id=1, username="t", role="manager", streets=None)


@pytest.mark.parametrize("household", sorted(HOUSEHOLDS))
def test_detail_from_the_stored_profile_is_the_profile_computed_on_demand(sessions, household):
    with sessions() as s:
        values, stored = s.execute(select(HouseholdScore.values, HouseholdScore.profile)
                                   .join(Snapshot).where(HouseholdScore.household_id == household,
                                                         Snapshot.as_of == AS_OF)).one()
        detail = household_detail(s, who=MANAGER, household_id=household, endpoint="test")
    assert stored["catalog"] == f"{CATALOG.name}/{CATALOG.version}"
    indicators, dims = household_profile(values)
    assert detail.indicators == indicators
    assert detail.dimensions == dims
    assert sorted(stored["deprived"]) == sorted(i.id for i in indicators if i.deprived)


@pytest.mark.parametrize("text", [
    '["收入低；医疗支出高", "失业"]', '{"a": [1, 2.5, null, true]}', '"\\ud800"', "[NaN, 1e400]",
    '"\\u0000"', "[]", "null"])
def test_json_columns_read_back_what_the_standard_parser_reads(text):
    got, want = json_loads(text), json.loads(text)
    if isinstance(want, list) and want and isinstance(want[0], float) and math.isnan(want[0]):
        assert math.isnan(got[0]) and got[1:] == want[1:]
    else:
        assert got == want and type(got) is type(want)


@pytest.mark.parametrize(("code", "pattern"), [
    ("income_drop", "income/_drop"), ("50%", "50/%"), ("a/b", "a//b"), ("plain", "plain")])
def test_like_patterns_take_codes_literally(code, pattern):
    assert _like(code) == pattern


def test_underscore_in_a_flag_is_not_a_wildcard(client, auth):
    r = client.get(f"{API}/referrals", params={"flag": "income_drop"}, headers=auth("mgr"))
    assert r.status_code == 200
    assert [i["household_id"] for i in r.json()["items"]] == ["hS03a"]


@pytest.mark.parametrize(("page_size", "page", "ids", "total"), [
    (2, 1, ["hS01a", "hS02a"], 3),  # a full page: the total comes from the same statement
    (2, 2, ["hS03a"], 3),           # the last page
    (2, 3, [], 3),                  # past the end: month and total asked again
])
def test_one_statement_pages_and_counts(sessions, page_size, page, ids, total):
    with sessions() as s:
        out = list_referrals(s, who=MANAGER, filters=Filters(), sort="rank_street", page=page,
                             page_size=page_size)
    assert [i.household_id for i in out.items] == ids
    assert (out.total, out.as_of) == (total, AS_OF)


def test_caseworker_list_is_bound_to_their_streets(sessions):
    cw = Principal(user_id=2, username="cw", role="caseworker", streets=("S02",))
    with sessions() as s:
        out = list_referrals(s, who=cw, filters=Filters(), sort="rank_street", page=1,
                             page_size=50)
        none = list_referrals(s, who=cw, filters=Filters(band="medium"), sort="rank_street",
                              page=1, page_size=50)
    assert [i.household_id for i in out.items] == ["hS02a"] and out.total == 1
    assert none.items == [] and none.total == 0 and none.as_of == AS_OF
