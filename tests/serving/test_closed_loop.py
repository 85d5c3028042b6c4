"""The closed loop: decisions recorded through the API become labels of the next training run
(``data.extra_labels``), and overrides are kept for the override analysis.

A small simulated district (2,500 households x 5 months) is ingested; a snapshot of 40
referrals from its last month is loaded into a SQLite store; a manager records outcomes; the
exported labels feed :func:`run_training`, whose report counts them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from assist.experiments.config import parse_config
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.ingest.run import ingest
from assist.pipelines.dataset import store_dataset
from assist.pipelines.featurize import load_for_features
from assist.pipelines.train import run_training
from assist.serving.app import create_app
from assist.serving.db import make_engine, session_factory, upgrade
from assist.serving.services.decisions import decisions_as_labels, overrides
from assist.serving.services.snapshots import load_snapshot
from assist.serving.services.users import add_user
from assist.settings import DEV_PSEUDONYM_KEY, Settings
from assist.simulate import simulate
from assist.storage.casebook import write_labels

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LAST, FEATURE_MONTH = "2026-10", "2026-09"  # a visit in October labels September's features


def test_decisions_become_training_labels(tmp_path):
    ws = tmp_path
    simulate(households=2500, months=5, seed=11, end_month=LAST, out=ws / "source",
             truth_out=ws / "truth")
    ingest(source=ws / "source", out=ws / "store", key=DEV_PSEUDONYM_KEY)
    tables = load_for_features(ws / "store", LAST)
    values = build(tables, LAST)
    attrs = household_attributes(tables, LAST).reindex(values.index)
    chosen = values.index[:40]
    scores = pd.DataFrame({"street_code": attrs["street_code"].astype("string"),
                           "community_code": attrs["community_code"].astype("string"),
                           "probability": 0.3, "band": "medium", "deprivation_score": 0.2,
                           "rank_district": range(1, len(values) + 1)}, index=values.index)
    scores["band"] = scores["band"].astype(object)
    scores.loc[chosen[:2], "band"] = "high"
    scores = scores.join(values)
    ref = scores.loc[chosen, ["street_code", "community_code", "probability", "band",
                              "deprivation_score", "rank_district"]].copy()
    ref["rank_street"] = ref["rank_community"] = ref["rank_district"]
    ref["allocated"] = True
    for col in ("primary_cause", "secondary_cause", "top_factors_en", "top_factors_zh",
                "allocated_programmes", "programmes", "reasons_en", "reasons_zh", "flags"):
        ref[col] = pd.array([None] * len(ref), dtype="string")

    s = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY)
    upgrade(s.db_url)
    engine = make_engine(s.db_url)
    with session_factory(engine)() as session:
        load_snapshot(session, as_of=LAST, summary={"model_version": "m/1"}, scores=scores,
                      referrals=ref, indicator_ids=CATALOG.ids)
        add_user(session, username="mgr", password="password-123", role="manager")
    app = create_app(s, engine=engine)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        tok = client.post("/api/v1/auth/token", json={"username": "mgr", "password": "password-123"}
                          ).json()["access_token"]
        h = {"Authorization": f"Bearer {tok}"}
        items = client.get("/api/v1/referrals", params={"page_size": 200, "sort": "rank_district"},
                           headers=h).json()["items"]
        assert len(items) == 40
        for i, item in enumerate(items):
            outcome = "confirmed" if i % 2 else "not_in_need"
            body = {"referral_id": item["id"], "outcome": outcome, "visit_date": f"{LAST}-15"}
            if item["band"] == "high" and outcome == "not_in_need":
                body["override_reason"] = "son moved back in and pays the rent"
            r = client.post("/api/v1/decisions", json=body, headers=h)
            assert r.status_code == 201, r.text
        with session_factory(engine)() as session:
            labels = decisions_as_labels(session)
            kept = overrides(session)
    engine.dispose()
    assert len(labels) == 40 and set(labels["month"]) == {LAST}
    assert list(kept["override_reason"]) == ["son moved back in and pays the rent"]
    path = write_labels(labels, ws / "labels" / "casebook.parquet")

    month = store_dataset(store=ws / "store", groups=[]).month(FEATURE_MONTH)
    decided = set(labels["household_id"]) & set(month.X.index)
    expected = set(month.y.dropna().index) | decided
    positives = (set(month.y[month.y == 1].index) - decided) | set(
        labels.loc[labels["outcome"] == "confirmed", "household_id"]) & decided
    raw = yaml.safe_load((ROOT / "experiments" / "default.yaml").read_text(encoding="utf-8"))
    raw["data"]["extra_labels"] = str(path)
    raw["data"]["truth"] = "off"
    raw["validation"].update(test_folds=1, calibration_months=1, min_train_months=1)
    raw["model"]["n_estimators"] = 20
    raw["tracking"]["register_versions"] = False
    result = run_training(config=parse_config(raw), base_dir=ROOT, settings=s, track=False,
                          register=False)
    after = result.report["data"]["labels"][FEATURE_MONTH]
    # every decided household is labelled now, with the decision's outcome (decisions are
    # the latest visit of the month here, so they win)
    assert len(decided) > 30
    assert after["labelled"] == len(expected) > len(month.y.dropna())
    assert after["positives"] == len(positives)
