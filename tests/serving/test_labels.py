"""Labels that train, the serving side: ``visit_date`` is checked against the district's day
(UTC+8) and the referral's snapshot month (422 naming the field, on the API and beside the
form field), and a decision's label names the month its referral was scored on."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from assist.serving.errors import ApiError
from assist.serving.pages import session as cookies
from assist.serving.services import decisions as svc
from assist.serving.services.decisions import check_visit_date, decisions_as_labels
from assist.storage.casebook import LABEL_COLUMNS, write_labels
from tests.serving.conftest import AS_OF, PASSWORD, referral_id

IN = "hS01a"  # in cw1's streets; referred in 2026-09 and in AS_OF (2026-10)
TODAY = dt.date(2026, 12, 6)


@pytest.mark.parametrize("visit, code", [
    ("2026-10-01", None), ("2026-12-06", None), ("2026-11-30", None),
    ("2026-12-07", "visit_date_in_future"), ("2027-01-02", "visit_date_in_future"),
    ("2026-09-30", "visit_date_before_referral"), ("2025-10-15", "visit_date_before_referral"),
])
def test_check_visit_date(visit, code):
    day = dt.date.fromisoformat(visit)
    if code is None:
        check_visit_date(day, referral_month="2026-10", today=TODAY)
        return
    with pytest.raises(ApiError) as err:
        check_visit_date(day, referral_month="2026-10", today=TODAY)
    assert (err.value.status, err.value.code, err.value.field) == (422, code, "body.visit_date")


def test_district_today_is_utc_plus_8():
    now = dt.datetime.now(dt.UTC)
    assert svc.district_today() in {(now + dt.timedelta(hours=8)).date(),
                                    (now + dt.timedelta(hours=8, seconds=5)).date()}
    assert svc.DISTRICT_TZ.utcoffset(None) == dt.timedelta(hours=8)


def _post(client, auth, rid: int, **kw):
    return client.post("/api/v1/decisions", headers=auth("mgr"),
                       json={"referral_id": rid, "outcome": "confirmed", **kw})


def test_api_refuses_visit_dates_in_the_future_or_before_the_referral(client, auth, sessions):
    rid = referral_id(sessions, IN)
    tomorrow = svc.district_today() + dt.timedelta(days=1)
    for visit, code in ((tomorrow.isoformat(), "visit_date_in_future"),
                        ("2026-09-30", "visit_date_before_referral")):
        r = _post(client, auth, rid, visit_date=visit)
        assert r.status_code == 422, r.text
        err = r.json()["error"]
        assert (err["code"], err["field"]) == (code, "body.visit_date")
        assert "visit_date" in err["message"]
    r = _post(client, auth, rid, visit_date=f"{AS_OF}-01")  # the referral month's first day
    assert r.status_code == 201, r.text
    d = r.json()
    r = client.put(f"/api/v1/decisions/{d['id']}", headers=auth("mgr"),
                     json={"outcome": "confirmed", "version": d["version"],
                           "visit_date": "2026-09-15"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "body.visit_date"
    # the earlier referral (snapshot 2026-09) accepts a September visit
    r = _post(client, auth, referral_id(sessions, IN, "2026-09"), visit_date="2026-09-15")
    assert r.status_code == 201, r.text
    # no visit date: the district's today
    r = _post(client, auth, referral_id(sessions, "hS02a"))
    assert r.status_code == 201 and r.json()["visit_date"] == svc.district_today().isoformat()


def test_labels_name_the_referral_month_and_latest_update(client, auth, sessions, tmp_path):
    rid = referral_id(sessions, IN)
    d = _post(client, auth, rid, visit_date="2026-11-03").json()
    r = client.put(f"/api/v1/decisions/{d['id']}", headers=auth("mgr"),
                     json={"outcome": "unreachable", "version": d["version"],
                           "visit_date": "2026-11-20"})
    assert r.status_code == 200, r.text
    assert _post(client, auth, referral_id(sessions, IN, "2026-09"),
                 visit_date="2026-10-02").status_code == 201
    with sessions() as s:
        labels = decisions_as_labels(s)
    assert list(labels.columns) == list(LABEL_COLUMNS)
    got = labels.sort_values("referral_month")[["referral_month", "month", "outcome"]]
    # a visit in November on October's referral labels October's features (label month
    # November, as the department's records would label them); the update is what is kept
    assert got.to_numpy().tolist() == [["2026-09", "2026-10", "confirmed"],
                                       [AS_OF, "2026-11", "unreachable"]]
    assert labels["updated_at"].dt.tz is not None
    back = pd.read_csv(write_labels(labels, tmp_path / "labels.csv"))
    assert list(back.columns) == list(LABEL_COLUMNS) and len(back) == 2
    old = write_labels(labels[list(LABEL_COLUMNS[:4])], tmp_path / "old.parquet")
    assert list(pd.read_parquet(old).columns) == list(LABEL_COLUMNS[:4])  # old files still fine


def _browser(app, user: str) -> TestClient:
    c = TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)
    c.cookies.set(cookies.LANG_COOKIE, "en")
    csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', c.get("/login").text).group(1)
    assert c.post("/login", data={"username": user, "password": PASSWORD,
                                  "csrf": csrf}).status_code == 303
    return c


@pytest.mark.parametrize("visit, words", [
    ("2999-01-01", "The visit date is after today"),
    ("2026-09-30", "The visit date is before the month of this referral"),
])
def test_page_shows_the_visit_date_message_beside_the_field(app, visit, words):
    c = _browser(app, "cw1")
    page = c.get(f"/households/{IN}").text
    fields = {n: re.search(rf'name="{n}" value="([^"]+)"', page).group(1)
              for n in ("csrf", "referral_id")}
    r = c.post(f"/households/{IN}/decision",
               data={**fields, "outcome": "confirmed", "visit_date": visit, "note": "kept"})
    assert r.status_code == 422 and "text/html" in r.headers["content-type"]
    beside = re.search(r'id="visit_date"[^>]*aria-invalid="true"[^>]*>\s*<p class="alert" '
                       r'role="alert" id="visit_date-error">([^<]+)</p>', r.text)
    assert beside and words in beside.group(1)
    assert f'value="{visit}"' in r.text and "kept" in r.text  # the form keeps what was typed
