"""End to end on a generated district: decisions recorded through the API as a caseworker, then
the coverage page, the API's coverage JSON, the stored download and the override report agree
with each other and with the case store and the department's records (issue 17's "Done when").

1,200 households x 2 months are simulated and ingested; a need model is trained on the first
month's hidden truth (a test shortcut, as in ``generated_district``); October is scored into
the workspace and loaded into a fresh SQLite case store. Built once for the module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from assist.cli.app import app as cli
from assist.features import CATALOG
from assist.features.codes import STREETS
from assist.ingest.run import ingest
from assist.models.matching import receiving
from assist.pipelines.score import StreetEntry, config_digest, load_scoring_config, run_scoring
from assist.reports.coverage_view import count_columns
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.models import Decision
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.simulate import simulate
from assist.storage.snapshot import read_snapshot
from assist.storage.store import load_tables
from tests.serving.generated_district import ROOT, fitted_on, signed_in, token
from tests.serving.test_pages_reports import _row

AS_OF = "2026-10"
PASSWORD = "correct-horse-battery"
USERS = {"cw": ("caseworker", tuple(STREETS)), "cw3": ("caseworker", ("S03",)),
         "mgr": ("manager", ()), "ds": ("data_scientist", ())}


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    """The workspace, settings and app of the generated district (no decision yet)."""
    ws = tmp_path_factory.mktemp("district")
    simulate(households=1200, months=2, seed=11, end_month=AS_OF, out=ws / "source",
             truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    model = fitted_on(ws / "store", ws / "truth", "2026-09", n_estimators=30)
    cfg = load_scoring_config(ROOT / "experiments" / "scoring.yaml")
    cfg = cfg.model_copy(update={"allocation": cfg.allocation.model_copy(update={
        "streets": {"default": StreetEntry(visits=12, floor=1)}})})
    run_scoring(store=ws / "store", as_of=AS_OF, out=ws / "scores", model=model,
                model_version="test-1", config=cfg, config_hash=config_digest(cfg),
                key=DEV_PSEUDONYM_KEY)
    settings = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY,
                        database_url=f"sqlite:///{ws / 'assist.db'}")
    upgrade(settings.db_url)
    engine = make_engine(settings.db_url)
    snap = read_snapshot(ws / "scores", AS_OF)
    with session_factory(engine)() as s:
        load_snapshot(s, as_of=AS_OF, summary=snap.summary, scores=snap.scores,
                      referrals=snap.referrals, indicator_ids=CATALOG.ids)
        for name, (role, streets) in USERS.items():
            add_user(s, username=name, password=PASSWORD, role=role, streets=streets)
    app = create_app(settings, engine=engine)
    yield ws, settings, app, snap
    engine.dispose()


def _department_records(ws: Path, ids: pd.Index) -> tuple[set, set, set]:
    """Households of October with a department verification record, with one confirming need,
    and with an active grant (read straight from the store)."""
    t = load_tables(ws / "store", as_of=AS_OF, months=1, tables=["assistance", "verifications"])
    v = t["verifications"]
    v = v.loc[v["snapshot"].astype(str) == AS_OF]
    seen = set(v["household_id"].astype(str)) & set(ids)
    confirmed = set(v.loc[v["outcome"].astype(str) == "confirmed", "household_id"].astype(str))
    grants = receiving(t["assistance"], ids, as_of=AS_OF).any(axis=1)
    return seen, confirmed & set(ids), set(ids[grants.to_numpy()])


def _record(client: TestClient, headers: dict, referrals: list[dict]) -> dict[str, dict]:
    """Decisions on ``referrals`` (outcomes in turn), each as the API returned it."""
    outcomes = ["confirmed", "not_in_need", "unreachable", "confirmed", "declined"]
    made = {}
    for i, r in enumerate(referrals):
        outcome = outcomes[i % len(outcomes)]
        body = {"referral_id": r["id"], "outcome": outcome,
                "programmes_granted": ["dibao"] if outcome == "confirmed" and i == 0 else []}
        if (outcome == "not_in_need" and r["band"] == "high") or (
                outcome == "confirmed" and r["band"] == "low"):
            body["override_reason"] = "seen on the visit"
        res = client.post("/api/v1/decisions", json=body, headers=headers)
        assert res.status_code == 201, res.text
        made[r["household_id"]] = {**res.json(), "street": r["street_code"]}
    return made


def _expected(ws: Path, scores: pd.DataFrame, decided: dict[str, dict], street: str | None):
    """Visited, confirmed and assisted households by the rules the page states: a household
    in both sources counts once; where both hold an outcome the caseworker's decision counts."""
    ids = scores.index.astype(str)
    seen, confirmed, grants = _department_records(ws, ids)
    dec = set(decided)
    dec_conf = {h for h, d in decided.items() if d["outcome"] == "confirmed"}
    dec_grant = {h for h in dec_conf if decided[h]["programmes_granted"]}
    keep = set(ids) if street is None else set(ids[(scores["street_code"] == street).to_numpy()])
    return {"verified": len((seen | dec) & keep), "verified_records": len(seen & keep),
            "verified_decisions": len(dec & keep), "verified_both": len(seen & dec & keep),
            "confirmed": len((dec_conf | (confirmed - (dec - dec_conf))) & keep),
            "assisted": len((grants | dec_grant) & keep)}


def _cells(row_html: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in
            re.findall(r'<td class="num">(.*?)</td>', row_html, flags=re.S)]




def test_coverage_overrides_and_downloads_agree_with_the_case_store(district):
    ws, settings, app, snap = district
    api = TestClient(app, base_url="http://127.0.0.1")
    cw, mgr = token(api, "cw", PASSWORD), token(api, "mgr", PASSWORD)
    listed = api.get("/api/v1/referrals", params={"street": "S01", "allocated": True,
                                                  "page_size": 6}, headers=cw).json()["items"]
    seen, _, _ = _department_records(ws, snap.scores.index.astype(str))
    # referrals the department also visited this month: each must count once
    both = snap.referrals.loc[snap.referrals.index.isin(list(seen))]
    assert len(both) >= 2, "the generated district has referrals the department visited"
    also = [next(r for r in api.get("/api/v1/referrals", params={
        "street": street, "page_size": 200}, headers=cw).json()["items"]
        if r["household_id"] == h) for h, street in both["street_code"].iloc[:2].items()]
    decided = _record(api, cw, [*listed[:5], *[r for r in also if r not in listed[:5]]])

    rep = api.get("/api/v1/reports/coverage", headers=mgr).json()
    rows = {r["street_code"]: r for r in rep["streets"]}
    for street in ("S01", None):
        want = _expected(ws, snap.scores, decided, street)
        got = rows[street or "(district)"]
        assert {k: got[k] for k in want} == want, street
    assert rows["(district)"]["verified_both"] >= 2
    with app.state.sessions() as s:
        in_store = s.scalar(select(func.count(Decision.id)))
    assert rep["decisions"] == in_store == len(decided) == rows["(district)"]["verified_decisions"]
    assert rep["case_store"]["decisions"] == in_store

    # the stored JSON is the API's, and the page and the stored download show its numbers
    stored = json.loads((ws / "reports" / AS_OF / "coverage.json").read_text(encoding="utf-8"))
    assert stored["streets"] == rep["streets"] and stored["case_store"] == rep["case_store"]
    page = signed_in(app, "mgr", PASSWORD, lang="zh")
    html = page.get("/coverage").text
    download = page.get(f"/reports/{AS_OF}/coverage.html").text
    chinese = download.split('id="zh"', 1)[1].split('id="en"', 1)[0]
    counts = count_columns(rep["probability_basis"] == "population")
    assert rep["probability_basis"] == "visited" and counts[-1] == "gap_index"  # index's gap
    numbers = [f"{rows['S01'][c]:,}" for c in counts]
    assert _cells(_row(html, "东湖街道"))[:9] == _cells(_row(chinese, "东湖街道"))[:9] == numbers
    assert "高需求档（仅作排序）" in html and "困难（高需求）" not in html
    assert "数据来源" in html and "—" in _cells(_row(html, "东湖街道"))[-1]  # no expected need

    # overrides: the same decisions, and never "none recorded" while they exist
    ov = api.get("/api/v1/reports/overrides", params={"as_of": AS_OF}, headers=mgr).json()
    assert ov["decisions"] == in_store
    ov_page = page.get("/overrides").text
    assert "尚无社工处理结果" not in ov_page and "处理结果" in ov_page

    # one more decision: every reader moves together
    more = api.get("/api/v1/referrals", params={"street": "S02", "allocated": True,
                                                "page_size": 1}, headers=cw).json()["items"]
    decided |= _record(api, cw, more)
    again = api.get("/api/v1/reports/coverage", headers=mgr).json()
    district_row = next(r for r in again["streets"] if r["street_code"] == "(district)")
    assert district_row["verified_decisions"] == len(decided) == again["decisions"]
    assert _cells(_row(page.get("/coverage").text, "全区"))[5] == f"{district_row['verified']:,}"

    # `assist report coverage` counts the same decisions (and writes the same state)
    res = CliRunner().invoke(cli, ["report", "coverage", "--as-of", AS_OF, "--json"],
                             env={"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws)})
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    assert printed["streets"] == again["streets"] and printed["case_store"] == again["case_store"]


def test_every_count_opens_its_households_scoped_by_role(district):
    ws, settings, app, snap = district
    mgr = signed_in(app, "mgr", PASSWORD, lang="en")
    html = mgr.get("/coverage").text
    link = re.search(r'href="(/coverage/households\?as_of=2026-10&amp;measure=referred'
                     r'&amp;street=S01)"', html)
    assert link, "the referred count of S01 links to its households"
    listed = mgr.get(link.group(1).replace("&amp;", "&")).text
    s01 = snap.scores[(snap.scores["street_code"] == "S01").to_numpy()]
    referred = s01.index[(s01["candidate"] | s01["warning"]).to_numpy()]
    shown = set(re.findall(r'<a href="/households/([^"]+)"', listed))
    assert shown == set(referred.astype(str))  # under a hundred: one page

    cw3 = signed_in(app, "cw3", PASSWORD)
    assert cw3.get("/coverage/households?measure=referred&street=S01").status_code == 403
    mine = cw3.get("/coverage/households?measure=households").text
    streets = {snap.scores.loc[h, "street_code"]
               for h in re.findall(r'<a href="/households/([^"]+)"', mine)}
    assert streets == {"S03"}  # a caseworker's list holds their streets only
    ds = signed_in(app, "ds", PASSWORD).get("/coverage/households?measure=high_band").text
    assert "/households/" not in ds and re.search(r"<code>h[0-9a-f]+</code>", ds)  # pseudonyms
    assert mgr.get("/coverage/households?measure=nope").status_code == 404
    # a long list is paged (100 a page): page 2 holds the next households, none twice
    first = mgr.get("/coverage/households?measure=households").text
    assert 'href="/coverage/households?as_of=2026-10&amp;measure=households&amp;page=2"' in first
    second = mgr.get("/coverage/households?measure=households&page=2").text
    assert 'page=1"' in second and "Previous page" in second
    ids = [re.findall(r'<a href="/households/([^"]+)"', x) for x in (first, second)]
    assert len(ids[0]) == 100 and ids[1] and not set(ids[0]) & set(ids[1])

    ew = mgr.get("/early-warning").text  # early warnings open the flagged households
    assert "/referrals?street=" in ew and "flag=" in ew
    assert 'href="/referrals?street=S01"' not in ew
