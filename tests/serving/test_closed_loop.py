"""The closed loop: decisions recorded through the API become labels of the next training run
(``data.extra_labels``) — labels of the month their referral was scored on — and change the
model; overrides are kept for the override analysis.

A small simulated district (2,500 households x 5 months) is ingested; a snapshot of 40
referrals from its last month is loaded into a SQLite store; a manager records outcomes; the
exported labels (with a few hand-made rows, one per drop reason) feed ``assist train``, whose
report, MLflow run and output count them; the registered trees differ from a run without them.
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
from assist.experiments import tracking
from assist.experiments.config import parse_config
from assist.features import CATALOG, build
from assist.features.attributes import household_attributes
from assist.ingest.run import ingest
from assist.models.need import NeedModel
from assist.pipelines.dataset import store_dataset
from assist.pipelines.featurize import load_for_features
from assist.pipelines.mlflow_run import MODEL_FILE
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
LAST, NEXT, TEST_MONTH = "2026-10", "2026-11", "2026-09"  # decisions label LAST's features


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
    assert len(labels) == 40 and set(labels["referral_month"]) == {LAST}
    assert set(labels["month"]) == {NEXT}  # the label month, as the department's records
    assert list(kept["override_reason"]) == ["son moved back in and pays the rent"]

    plain = store_dataset(store=ws / "store", groups=[])
    test = plain.month(TEST_MONTH)
    known, unknown = test.y.dropna().index[:3], test.y.index[test.y.isna().to_numpy()][:2]
    extra = pd.DataFrame({  # hand-made decisions on September's referrals, and one of each drop
        "household_id": [*known, *unknown, unknown[0], "nobody", known[0], known[1]],
        "month": [LAST] * 8 + ["2025-01"], "referral_month": [TEST_MONTH] * 8 + [None],
        "outcome": ["confirmed"] * 5 + ["not_in_need", "confirmed", "pending", "confirmed"],
        "date": pd.to_datetime([f"{LAST}-05"] * 9),
        "updated_at": pd.to_datetime([f"{LAST}-06T00:00Z"] * 5 + [f"{LAST}-01T00:00Z",
                                      f"{LAST}-06T00:00Z", f"{LAST}-07T00:00Z",
                                      f"{LAST}-06T00:00Z"])})
    # used: known[1:], unknown (known[1:] replace the department's label); dropped: an older
    # update of unknown[0] and known[0]'s confirmed, overtaken by a later "pending" (2
    # duplicates, 1 unlabelled); a household not in the store; an old-format row whose label
    # month 2025-01 is outside the store's months
    path = write_labels(pd.concat([labels, extra], ignore_index=True),
                        ws / "labels" / "casebook.parquet")

    raw = yaml.safe_load((ROOT / "experiments" / "default.yaml").read_text(encoding="utf-8"))
    raw["data"]["truth"] = "off"
    raw["validation"].update(test_folds=1, calibration_months=1, min_train_months=1)
    raw["model"]["n_estimators"] = 20
    raw["tracking"]["register_versions"] = False
    before = run_training(config=parse_config(raw), base_dir=ROOT, settings=s, register=False)
    assert before.report["data"]["casebook_labels"] is None
    raw["data"]["extra_labels"] = str(path)
    (ws / "exp.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws),
           "ASSIST_PSEUDONYM_KEY": DEV_PSEUDONYM_KEY, "ASSIST_MLFLOW_TRACKING_URI": ""}
    res = CliRunner().invoke(cli, ["train", "--config", str(ws / "exp.yaml"), "--no-register"],
                             env=env, terminal_width=200)
    assert res.exit_code == 0, res.output
    printed = " ".join(res.output.split())
    assert ("case-store labels: 44 of 49 row(s) used, 44 in the final model's training; 2 "
            "replaced a department verification; dropped: 2 duplicates") in printed
    for words in ("1 unlabelled outcomes", "1 outside the store's example months",
                  "1 households not in the store that month"):
        assert words in printed, words
    run_id = re.search(r"run ([0-9a-f]{32})", printed).group(1)

    c = tracking.client(s.mlflow_uri)
    run = c.get_run(run_id)
    assert run.data.metrics["casebook_labels.used"] == 44
    assert run.data.metrics["casebook_labels.used_in_training"] == 44
    assert run.data.metrics["casebook_labels.dropped.not_in_store"] == 1
    assert run.data.params["data.casebook_labels"].startswith("rows=49,used=44,used_in_training=44")
    report = json.loads(Path(c.download_artifacts(run_id, tracking.REPORT_ARTIFACT,
                                                  str(ws / "a"))).read_text(encoding="utf-8"))
    counts = report["data"]["labels"]
    assert counts[LAST] == {"households": -1, "labelled": 40, "positives": 20, "casebook": 40}
    assert counts[TEST_MONTH]["casebook"] == 4
    assert report["data"]["casebook_labels"]["dropped"] == {
        "duplicates": 2, "unlabelled": 1, "outside_months": 1, "not_in_store": 1}
    assert report["model"]["last_training_month"] == LAST
    assert "case-store label(s) of 2026-09, 2026-10" in report["model"]["final_note"]
    # the model changed because of them: other trees, other scores for the same households
    trees = [Path(c.download_artifacts(r, f"{tracking.MODEL_ARTIFACT}/{MODEL_FILE}",
                                       str(ws / f"m{i}"))) for i, r in enumerate(
                                           (before.run_id, run_id))]
    assert trees[0].read_bytes() != trees[1].read_bytes()
    models = [NeedModel.load(t, expected_features=CATALOG.ids,
                             expected_catalog_version=CATALOG.version) for t in trees]
    X = values.loc[chosen, CATALOG.ids]  # noqa: N806
    moved = np.abs(models[1].predict_raw(X) - models[0].predict_raw(X))
    assert moved.max() > 0
    print(f"case-store labels used {report['data']['casebook_labels']['used']}, in training "
          f"{report['data']['casebook_labels']['used_in_training']}; raw scores of the 40 "
          f"referred households moved by up to {moved.max():.4f} (mean {moved.mean():.4f})")
