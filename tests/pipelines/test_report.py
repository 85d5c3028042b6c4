"""`assist audit` and `assist report coverage|drift` end to end.

The audit runs on small hand-made CSV/Parquet files; coverage and drift on a small simulated
district (simulate -> ingest -> features) with fabricated scoring snapshots (no model trained).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assist.features import CATALOG
from assist.models.deprivation import alkire_foster
from assist.models.matching import receiving
from assist.models.warning import need_band
from assist.pipelines.cli import app
from assist.pipelines.store import load_tables

MONTHS = ("2026-09", "2026-10")
AS_OF = MONTHS[-1]
GROUP_KEYS = {"attribute", "group", "n", "base_rate", "selection_rate", "tpr", "fnr", "fpr",
              "tnr", "precision", "fdr", "for", "npv", "calibration_gap", "disparity", "flags"}
ENV = {"ASSIST_ENV": "dev"}


@pytest.fixture
def scored(tmp_path):
    frame = pd.DataFrame({
        "household_id": [f"h{i}" for i in range(10)],
        "prob": [.9, .2, .6, .1, .3, .8, .1, .2, .4, .3],
        "verified": [1, 1, 0, 0, 1, 0, 0, 0, 1, 0],
        "hukou": list("AAAABBCCDD"),
        "sex": list("FMFMFMFMFM"),
    })
    path = tmp_path / "scored.csv"
    frame.to_csv(path, index=False)
    return path, frame


def _audit(*args, env=ENV):
    return CliRunner().invoke(app, ["audit", *args], env=env)


def test_audit_json_shape_exactly(scored):
    path, _ = scored
    res = _audit("--scores", str(path), "--score-col", "prob", "--label-col", "verified",
                 "--group", "hukou", "--group", "sex", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)  # exactly one JSON object on stdout
    assert set(out) == {"n", "threshold", "groups", "reference"}
    assert out["n"] == 10 and out["threshold"] == 0.5
    assert out["reference"] == {"hukou": "A", "sex": "F", "hukou & sex": "A & F"}
    for g in out["groups"]:
        assert set(g) == GROUP_KEYS
        assert all(v is None or 0 <= v <= 1 for k, v in g.items() if k in (
            "base_rate", "selection_rate", "tpr", "fnr", "fpr", "tnr", "precision", "fdr",
            "for", "npv"))
    c = next(g for g in out["groups"] if g["attribute"] == "hukou" and g["group"] == "C")
    assert c["tpr"] is None and c["precision"] is None and c["disparity"]["tpr"] is None
    assert {g["attribute"] for g in out["groups"]} == {"hukou", "sex", "hukou & sex"}


def test_audit_top_k_and_reference_and_html(scored, tmp_path):
    _, frame = scored
    parquet = tmp_path / "scored.parquet"
    frame.to_parquet(parquet)
    html = tmp_path / "out" / "audit.html"
    res = _audit("--scores", str(parquet), "--score-col", "prob", "--label-col", "verified",
                 "--group", "hukou", "--top-k", "3", "--reference", "B", "--html", str(html))
    assert res.exit_code == 0, res.output
    assert "harm is being missed" in res.output and "reference B" in res.output
    text = html.read_text(encoding="utf-8")
    assert "<svg" in text and "undefined" in text and "http" not in text.replace(
        "http://www.w3.org/2000/svg", "")
    res = _audit("--scores", str(parquet), "--score-col", "prob", "--label-col", "verified",
                 "--group", "hukou", "--top-pct", "30", "--json")
    assert json.loads(res.stdout)["threshold"] == 0.6  # third highest score


def test_unlabelled_rows_are_selected_then_dropped(scored, tmp_path):
    _, frame = scored
    frame = frame.assign(verified=frame["verified"].astype("Float64"))
    frame.loc[0, "verified"] = pd.NA  # the highest score, unvisited
    path = tmp_path / "partial.parquet"
    frame.to_parquet(path)
    args = ["--scores", str(path), "--score-col", "prob", "--label-col", "verified",
            "--group", "hukou", "--top-k", "2", "--json"]
    res = _audit(*args)
    assert res.exit_code == 2 and "--drop-unlabelled" in res.output
    out = json.loads(_audit(*args, "--drop-unlabelled").stdout)
    a = next(g for g in out["groups"] if g["group"] == "A")
    assert out["n"] == 9 and a["n"] == 3 and a["selection_rate"] == 0.0  # h0's place kept


@pytest.mark.parametrize(("change", "needle"), [
    ({"scores": "missing.csv"}, "missing.csv"),
    ({"score_col": "nope"}, "'nope'"),
    ({"label_col": "prob"}, "'prob'"),                      # not 0/1
    ({"group": "nope"}, "'nope'"),
    ({"extra": ["--top-k", "2", "--threshold", "0.3"]}, "only one"),
    ({"extra": ["--top-pct", "0"]}, "top_pct"),
    ({"extra": ["--reference", "Z"]}, "'Z'"),
])
def test_audit_errors_exit_2_with_one_message(scored, change, needle):
    path, _ = scored
    opts = {"scores": str(path), "score_col": "prob", "label_col": "verified", "group": "hukou"}
    opts.update({k: (str(path.parent / v) if k == "scores" else v) for k, v in change.items()
                 if k != "extra"})
    args = ["--scores", opts["scores"], "--score-col", opts["score_col"], "--label-col",
            opts["label_col"], "--group", opts["group"], *change.get("extra", [])]
    res = _audit(*args)
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


# --- coverage and drift on a small simulated district --------------------------------------
def _fabricate_scores(ws, month):
    """A scoring snapshot without a model: probability from the deprivation score."""
    feats = pd.read_parquet(ws / "features" / month / "features.parquet")
    attrs = pd.read_parquet(ws / "features" / month / "attributes.parquet")
    af = alkire_foster(feats[CATALOG.ids], CATALOG, k=0.3333)
    s = pd.DataFrame({"street_code": attrs["street_code"], "community_code": attrs["community_code"],
                      "probability": np.clip(0.02 + 1.8 * af.scores, 0, 1)}, index=feats.index)
    s["band"] = need_band(s["probability"], {"medium": 0.2, "high": 0.5})
    s["deprivation_score"], s["deprivation_poor"] = af.scores, af.poor
    order = s["probability"].rank(method="first", ascending=False)
    s["candidate"], s["allocated"], s["warning"] = order <= 60, order <= 40, False
    s = s.join(feats)
    (ws / "scores" / month).mkdir(parents=True)
    s.to_parquet(ws / "scores" / month / "scores.parquet")
    return s


@pytest.fixture(scope="module")
def district(tmp_path_factory):
    ws = tmp_path_factory.mktemp("ws")
    env = {"ASSIST_ENV": "dev", "ASSIST_WORKSPACE": str(ws)}
    runner = CliRunner()
    for args in (["simulate", "--households", "1500", "--months", "3", "--seed", "5"], ["ingest"],
                 *(["features", "--as-of", m] for m in MONTHS)):
        res = runner.invoke(app, args, env=env)
        assert res.exit_code == 0, res.output
    scores = {m: _fabricate_scores(ws, m) for m in MONTHS}
    return ws, env, scores


def test_coverage_report(district):
    ws, env, scores = district
    res = CliRunner().invoke(app, ["report", "coverage", "--as-of", AS_OF, "--json"], env=env)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    s = scores[AS_OF]
    streets = pd.DataFrame(rep["streets"]).set_index("street_code")
    district_row = streets.loc["(district)"]
    body = streets.drop(index="(district)")
    # streets add up to the district, which matches the snapshot and the store
    for col in ("households", "high_band", "index_poor", "assisted", "referred", "allocated",
                "verified", "confirmed", "gap_model", "gap_index"):
        assert body[col].sum() == district_row[col], col
    assert district_row["households"] == len(s)
    assert district_row["expected_in_need"] == pytest.approx(s["probability"].sum())
    assert district_row["referred"] == 60 and district_row["allocated"] == 40
    t = load_tables(ws / "store", as_of=AS_OF, months=1, tables=["assistance", "verifications"])
    assisted = receiving(t["assistance"], s.index, as_of=AS_OF).any(axis=1)
    assert district_row["assisted"] == int(assisted.sum()) > 0
    high = s["band"] == "high"
    assert high.sum() > 0
    assert district_row["gap_model"] == int((high & ~assisted).sum())
    assert district_row["gap_model_rate"] == pytest.approx((high & ~assisted).sum() / high.sum())
    assert district_row["confirmed"] <= district_row["verified"]
    communities = pd.DataFrame(rep["communities"])
    assert communities["households"].iloc[:-1].sum() == len(s)
    # deprivation index by street and dimension; trend over both snapshots
    shares = pd.DataFrame(rep["deprivation"]["dimension_share"]).T.astype(float)
    poor_streets = body.index[body["index_poor"] > 0]
    assert np.allclose(shares.loc[poor_streets].sum(axis=1), 1.0)
    assert shares.drop(index=poor_streets).isna().all(axis=None)  # no poor: undefined
    assert {r["street_code"] for r in rep["deprivation"]["streets"]} == set(body.index)
    assert [r["as_of"] for r in rep["trend"]] == list(MONTHS)
    html = (ws / "reports" / AS_OF / "coverage.html").read_text(encoding="utf-8")
    assert "<svg" in html and json.loads((ws / "reports" / AS_OF / "coverage.json").read_text())


def test_drift_report(district):
    ws, env, _ = district
    res = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--json"], env=env)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["reference"] == MONTHS[0] and rep["epsilon"] == 1e-4
    feats = [r["feature"] for r in rep["features"]]
    assert feats[0].startswith("score") and feats[1:] == CATALOG.ids
    assert all(r["psi"] is None or r["psi"] >= 0 for r in rep["features"])
    assert (ws / "reports" / AS_OF / "drift.html").is_file()
    same = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--reference", AS_OF,
                                    "--json"], env=env)
    assert all(r["psi"] in (0.0, None) for r in json.loads(same.stdout)["features"])


def test_reports_for_a_month_without_data_exit_2(district):
    _, env, _ = district
    for args in (["report", "coverage", "--as-of", "2019-01"], ["report", "drift", "--as-of",
                                                                  "2019-01"]):
        res = CliRunner().invoke(app, args, env=env)
        assert res.exit_code == 2 and "2019-01" in res.output


def test_audit_report_logged_to_mlflow(scored, tmp_path):
    from assist.experiments import tracking

    path, _ = scored
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = tracking.client(uri)
    run_id = c.create_run(c.create_experiment("t", artifact_location=str(tmp_path / "art"))).info.run_id
    env = {**ENV, "ASSIST_WORKSPACE": str(tmp_path), "ASSIST_MLFLOW_TRACKING_URI": uri}
    res = _audit("--scores", str(path), "--score-col", "prob", "--label-col", "verified",
                 "--group", "hukou", "--json", "--log-mlflow", run_id, env=env)
    assert res.exit_code == 0, res.output
    names = {a.path for a in c.list_artifacts(run_id, "reports")}
    assert names == {"reports/fairness_audit.json", "reports/fairness_audit.html"}
    assert "fairness.min_tpr_ratio.hukou" in c.get_run(run_id).data.metrics
