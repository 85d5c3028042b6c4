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

from assist.cli.app import app
from assist.features import CATALOG
from assist.models.deprivation import alkire_foster
from assist.models.matching import receiving
from assist.models.warning import need_band
from assist.storage.store import load_tables

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
    assert set(out) == {"n", "threshold", "groups", "reference", "intervals", "rule",
                        "min_ratio", "max_ratio", "findings"}
    # every group but the reference has the 95 % intervals of its recall and miss-rate ratios
    ratio = {(r["attribute"], r["group"]): r for r in out["findings"]["ratio_intervals"]}
    assert ratio[("hukou", "B")]["tpr"]["low"] < ratio[("hukou", "B")]["tpr"]["high"]
    assert ("hukou", "A") not in ratio  # the reference itself
    assert out["findings"]["min_positives"] == 20 and out["findings"]["harmful"] == []
    assert {(x["attribute"], x["group"]) for x in out["findings"]["not_judged"]} >= {
        ("hukou", "B"), ("sex", "M")}  # 10 households: nothing is judged
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
    for col in ("head_sex", "head_age_band", "head_hukou", "has_disability"):  # as scoring does
        s[col] = attrs[col].reindex(s.index)
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
    # no population calibration recorded: no expected need (visited-calibrated overstate it)
    assert rep["probability_basis"] == "visited" and district_row["expected_in_need"] is None
    assert rep["case_store"] is None and rep["decisions"] == 0  # no case store here yet
    assert district_row["verified"] == district_row["verified_records"]
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
    # trend per street over the store's months: the first without a snapshot (visits only)
    assert [r["as_of"] for r in rep["trend"]] == ["2026-08", *MONTHS]
    first = {r["street_code"]: r for r in rep["trend"][0]["streets"]}
    assert first["(district)"]["high_band"] is None and first["(district)"]["verified"] >= 0
    last = {r["street_code"]: r for r in rep["trend"][-1]["streets"]}
    assert last["(district)"]["verified"] == district_row["verified"]
    html = (ws / "reports" / AS_OF / "coverage.html").read_text(encoding="utf-8")
    assert "<svg" in html and json.loads((ws / "reports" / AS_OF / "coverage.json").read_text())


def test_coverage_recomputed_after_a_decision_redoes_only_what_it_changes(district,
                                                                          monkeypatch):
    """The coverage page recomputes the report after every decision; the trend's months and
    the deprivation index that the decision does not touch are taken from the stored report
    (at 2 M households the whole report took 27 s), and the result is the full computation's."""
    from assist.reports import coverage_keys, report

    ws, _, scores = district
    kw = {"scores_dir": ws / "scores", "store": ws / "store", "as_of": AS_OF}
    before = report.coverage_report(**kw)
    household = scores[MONTHS[0]].index[0]
    decided = pd.DataFrame({"household_id": [household], "as_of": [MONTHS[0]],
                            "outcome": ["confirmed"], "programmes_granted": [["dibao"]]})
    calls = {"months": [], "deprivation": 0}
    month_rows, by_street = report._month_rows, report.deprivation_by_street

    def counted_rows(scores_dir, store, month, *a):
        calls["months"].append(month)
        return month_rows(scores_dir, store, month, *a)

    def counted_deprivation(*a, **k):
        calls["deprivation"] += 1
        return by_street(*a, **k)

    monkeypatch.setattr(report, "_month_rows", counted_rows)
    monkeypatch.setattr(report, "deprivation_by_street", counted_deprivation)
    again = report.coverage_report(**kw, decisions=decided, previous=before)
    assert calls == {"months": [MONTHS[0]], "deprivation": 0}  # only the decided month
    fresh = report.coverage_report(**kw, decisions=decided)
    assert again == fresh and again["keys"][MONTHS[0]] != before["keys"][MONTHS[0]]
    assert {m: k for m, k in again["keys"].items() if m != MONTHS[0]} == {
        m: k for m, k in before["keys"].items() if m != MONTHS[0]}
    # a store ingested again (its manifest changes): every month is computed again
    calls["months"].clear()
    monkeypatch.setattr(coverage_keys, "store_stamp", lambda store: "another store")
    other = report.coverage_report(**kw, decisions=decided, previous=again)
    assert calls["months"] == ["2026-08", MONTHS[0]]
    assert {**other, "keys": None} == {**fresh, "keys": None}


def test_drift_report(district):
    ws, env, _ = district
    res = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--json"], env=env)
    assert res.exit_code == 0, res.output
    rep = json.loads(res.stdout)
    assert rep["reference"] == MONTHS[0] and rep["epsilon"] == 1e-4
    feats = [r["feature"] for r in rep["features"]]
    assert feats[0].startswith("score") and feats[1:] == CATALOG.ids
    assert all(r["psi"] is None or r["psi"] >= 0 for r in rep["features"])
    assert all(r["verdict"] in ("stable", "watch", "act", "undefined") for r in rep["features"])
    score = rep["features"][0]  # against the reference month, and last month as a second column
    assert score["previous_month"] == MONTHS[0] and score["previous_psi"] is not None
    assert (ws / "reports" / AS_OF / "drift.html").is_file()


def test_drift_never_compares_the_month_with_itself(district):
    _, env, _ = district
    same = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--reference", AS_OF,
                                    "--json"], env=env)
    assert same.exit_code == 2 and "itself" in same.output
    first = CliRunner().invoke(app, ["report", "drift", "--as-of", MONTHS[0], "--json"], env=env)
    rep = json.loads(first.stdout)  # the only earlier month is later: no score of itself
    assert rep["reference"] == AS_OF and rep["features"][0].get("previous_month") is None
    assert all(r["feature"] in CATALOG.ids or r["psi"] != 0.0 for r in rep["features"])


def test_explicit_reference_writes_its_own_file(district):
    ws, env, _ = district
    folder = ws / "reports" / AS_OF
    CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF], env=env)
    month_report = (folder / "drift.json").read_bytes()
    res = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--reference",
                                   MONTHS[0], "--json"], env=env)
    assert res.exit_code == 0, res.output
    assert (folder / f"drift-vs-{MONTHS[0]}.json").is_file()
    assert (folder / f"drift-vs-{MONTHS[0]}.html").is_file()
    assert (folder / "drift.json").read_bytes() == month_report


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


# --- `assist audit --as-of M`: the month's snapshot with the labels recorded for it ----------
def _october_outcomes(ws) -> pd.Series:
    """By hand: each household's latest informative verification visit dated in 2026-10."""
    v = load_tables(ws / "store", as_of=AS_OF, months=1, tables=["verifications"])["verifications"]
    v = v.loc[v["visit_date"].between(pd.Timestamp("2026-10-01"), pd.Timestamp("2026-10-31"))
              & v["outcome"].isin(["confirmed", "not_in_need"])]
    v = v.sort_values(["household_id", "visit_date", "verification_id"])
    last = v.drop_duplicates("household_id", keep="last").set_index("household_id")["outcome"]
    return (last == "confirmed").astype(float)


def test_audit_as_of_joins_the_months_groups_and_labels(district):
    ws, env, scores = district
    month = MONTHS[0]  # 2026-09: labelled by the visits dated in 2026-10
    res = _audit("--as-of", month, "--json", env=env)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    snap = scores[month]
    y = _october_outcomes(ws).reindex(snap.index).dropna()
    assert out["n"] == len(y) > 0 and out["rule"] == "listed (candidate)"
    streets = [g for g in out["groups"] if g["attribute"] == "street_code"]
    assert sum(g["n"] for g in streets) == len(y)
    positives = sum(round(g["n"] * g["base_rate"]) for g in streets)
    assert positives == int(y.sum())
    reached = sum(round(g["n"] * g["base_rate"] * (g["tpr"] or 0)) for g in streets)
    assert reached == int((snap.loc[y.index, "candidate"] & (y == 1)).sum())
    assert {"head_sex", "head_age_band", "head_hukou", "has_disability", "street_code"} <= set(
        out["reference"])
    found = out["findings"]
    assert found["min_positives"] == 20 and "Katz" in found["method"]
    judged = {(r["attribute"], r["group"]) for r in found["ratio_intervals"] if r["judged"]}
    assert judged.isdisjoint({(x["attribute"], x["group"]) for x in found["not_judged"]})
    # the terminal says where the labels came from
    res = _audit("--as-of", month, "--no-intersections", env=env)
    assert res.exit_code == 0 and f"snapshot {month}" in res.output
    assert f"{len(y):,} verification visits, 0 case-store decisions" in res.output


def test_audit_as_of_store_adds_the_live_audit_to_the_months_report(district):
    ws, env, _ = district
    month = MONTHS[0]
    folder = ws / "reports" / month
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fairness.json").write_text(json.dumps(
        {"as_of": month, "model_version": "assist-need-model/1", "min_positives": 20,
         "audits": {}}), encoding="utf-8")
    res = _audit("--as-of", month, "--store", "--json", env=env)
    assert res.exit_code == 0, res.output
    printed = json.loads(res.stdout)
    stored = json.loads((folder / "fairness.json").read_text(encoding="utf-8"))
    assert stored["model_version"] == "assist-need-model/1"  # the model's report is kept
    live = stored["audits"]["live"]
    assert live["findings"] == printed["findings"] and live["n"] == printed["n"]
    html = (folder / "fairness.html").read_text(encoding="utf-8")
    assert "依据本月名单与已记录结果" in html and "Katz" in html
    # the rows behind every count of every group are kept: each count is its list's length
    from assist.reports import fairness_households as fh
    from assist.reports.fairness_findings import counts

    rows = fh.read(folder)
    assert set(rows["audit"]) == {"live"} and rows["month"].eq(month).all()
    assert len(rows) == live["n"] and rows["street_code"].notna().all()
    for g in live["groups"]:
        for count, want in counts(g).items():
            got = fh.behind(rows, audit="live", attribute=g["attribute"], group=g["group"],
                            count=count)
            assert len(got) == want, (g["attribute"], g["group"], count)
    assert _audit("--scores", "x.csv", "--store", env=env).exit_code == 2  # a month only


def test_the_monthly_job_audits_last_months_list_once_its_visits_are_in(district):
    """``assist month --as-of 2026-10`` audits 2026-09's list against the visits dated in
    2026-10 (the same audit as ``assist audit --as-of 2026-09 --store``) and stores it in
    2026-09's fairness report; run again with the same labels, it changes nothing."""
    from assist.cli import month as cli_month
    from assist.pipelines import month as cycle
    from assist.settings import DEV_PSEUDONYM_KEY, Settings

    ws, env, _ = district
    s = Settings(env="dev", workspace=ws, pseudonym_key=DEV_PSEUDONYM_KEY)
    for name in ("fairness.json", "fairness.html", "fairness_households.parquet"):
        (ws / "reports" / MONTHS[0] / name).unlink(missing_ok=True)  # another test's audit
    first = cli_month._audit(s, cycle.MonthRecord(as_of=AS_OF))
    assert first.status == cycle.DONE and first.detail.startswith(f"{MONTHS[0]}: ")
    stored = json.loads((ws / "reports" / MONTHS[0] / "fairness.json").read_text())
    printed = json.loads(_audit("--as-of", MONTHS[0], "--json", env=env).stdout)
    assert stored["audits"]["live"]["groups"] == printed["groups"]
    assert cli_month._audit(s, cycle.MonthRecord(as_of=AS_OF)).status == cycle.UNCHANGED
    # a month whose last month has no list: nothing to audit, the month goes on
    early = cli_month._audit(s, cycle.MonthRecord(as_of=MONTHS[0]))
    assert (early.status, early.detail) == (cycle.UNCHANGED, "no list of 2026-08 to audit")


def test_case_store_decisions_label_the_month_over_the_department(district):
    from assist.pipelines.month_audit import month_table

    ws, _, scores = district
    month = MONTHS[0]
    dept = _october_outcomes(ws).reindex(scores[month].index).dropna()
    confirmed = dept.index[dept == 1][0]
    unlabelled = scores[month].index.difference(dept.index)[0]
    decisions = pd.DataFrame({"household_id": [confirmed, unlabelled, unlabelled],
                              "month": "2026-10", "outcome": ["not_in_need", "unreachable",
                                                              "confirmed"],
                              "date": pd.to_datetime(["2026-10-05", "2026-10-03", "2026-10-09"]),
                              "referral_month": month,
                              "updated_at": pd.to_datetime(["2026-10-05", "2026-10-03",
                                                            "2026-10-09"], utc=True)})
    table = month_table(scores_dir=ws / "scores", store=ws / "store", as_of=month,
                        casebook=decisions)
    label = table.frame["label"]
    assert label[confirmed] == 0.0 and label[unlabelled] == 1.0  # the latest decision wins
    assert table.counts["casebook"] == 2 and table.counts["replaced_verification"] == 1
    assert int(label.notna().sum()) == len(dept) + 1
    assert table.groups == ("head_sex", "head_age_band", "head_hukou", "has_disability",
                            "street_code")


@pytest.mark.parametrize(("args", "needle"), [
    (["--as-of", "2026-08"], "no scoring snapshot of 2026-08"),
    (["--as-of", AS_OF], f"no labels for {AS_OF}"),  # no 2026-11 visits, no decisions
    (["--as-of", "2026-13"], "not a month"),
    (["--as-of", AS_OF, "--label-col", "x"], "--label-col is not used with --as-of"),
    ([], "give either --scores FILE or --as-of MONTH"),
])
def test_audit_as_of_errors_are_one_line(district, args, needle):
    _, env, _ = district
    res = _audit(*args, env=env)
    assert res.exit_code == 2, res.output
    assert needle in res.output and "Traceback" not in res.output


# --- the model's fairness report from held-out predictions ---------------------------------
def _biased_predictions() -> pd.DataFrame:
    """200 households, 20 in need per hukou group; the model lists 16 of the local ones in
    need but only 6 of the non-local ones (and 10 households not in need of each group)."""
    rows = []
    for group, hits in (("local", 16), ("non-local", 6)):
        for i in range(100):
            need, chosen = i < 20, (i < hits) or (20 <= i < 30)
            rows.append({"household_id": f"{group}-{i}", "month": "2026-09" if i % 2 else
                         "2026-10", "score": 0.9 if chosen else 0.1, "raw_score": 0.0,
                         "selected": int(chosen), "verified": float(need) if i % 4 else np.nan,
                         "truth": float(need), "head_hukou": group,
                         "head_sex": "F" if i % 3 else "M"})
    return pd.DataFrame(rows)


def test_model_fairness_flags_a_biased_model_and_audit_reads_the_file(tmp_path):
    from assist.reports.model import fairness_report, write_predictions

    preds = _biased_predictions()
    payload, html = fairness_report(preds, groups=["head_hukou", "head_sex", "nope"], share=0.1,
                                    run_id="r1")
    assert payload["months"] == ["2026-09", "2026-10"] and payload["as_of"] == "2026-10"
    truth = payload["audits"]["truth"]
    g = {(r["attribute"], r["group"]): r for r in truth["groups"]}
    assert g[("head_hukou", "local")]["tpr"] == pytest.approx(16 / 20)
    assert g[("head_hukou", "non-local")]["tpr"] == pytest.approx(6 / 20)
    assert g[("head_hukou", "non-local")]["disparity"]["tpr"] == pytest.approx(6 / 16)
    assert "tpr" in g[("head_hukou", "non-local")]["flags"]
    # 20 in need per group: recall ratio 0.375, its 95 % interval wholly below the band
    harmful = truth["findings"]["harmful"]
    assert [(f["attribute"], f["group"]) for f in harmful][:1] == [("head_hukou", "non-local")]
    tpr = next(m for m in harmful[0]["metrics"] if m["metric"] == "tpr")
    assert tpr["ratio"] == pytest.approx(6 / 16) and tpr["high"] < 0.8
    assert (harmful[0]["positives"], harmful[0]["reached"]) == (20, 6)
    assert "head_hukou & head_sex" in truth["reference"]
    assert set(payload["audits"]) == {"verified", "truth"}
    assert "<svg" in html and "户主户籍" in html and "head&#39;s hukou" in html
    assert "依据模拟的真实困难情况" in html  # each audit headed by its (translated) label
    # the saved predictions file is an ordinary scored table for `assist audit`
    path = write_predictions(preds, tmp_path / "heldout_predictions.parquet")
    res = _audit("--scores", str(path), "--score-col", "selected", "--label-col", "verified",
                 "--group", "head_hukou", "--threshold", "1", "--drop-unlabelled", "--json")
    assert res.exit_code == 0, res.output
    cli = {r["group"]: r for r in json.loads(res.stdout)["groups"]}
    ver = {r["group"]: r for r in payload["audits"]["verified"]["groups"]
           if r["attribute"] == "head_hukou"}
    for group in ("local", "non-local"):
        assert cli[group]["tpr"] == pytest.approx(ver[group]["tpr"])
    # verified labels: 15 of each group's 20 in need are labelled (i % 4 != 0)
    assert ver["local"]["n"] == 75


def test_model_fairness_without_truth_or_groups():
    from assist.reports.model import fairness_report

    preds = _biased_predictions().drop(columns="truth")
    payload, _ = fairness_report(preds, groups=["head_hukou"], share=0.1)
    assert set(payload["audits"]) == {"verified"}
    payload, html = fairness_report(preds, groups=[], share=0.1)
    assert payload["audits"] == {} and "<html" in html


# --- the month's reports after scoring ------------------------------------------------------
def _snapshot_files(ws):
    """Referrals (with flags) and summary beside the fabricated AS_OF scores."""
    s = pd.read_parquet(ws / "scores" / AS_OF / "scores.parquet")
    refs = s.loc[s["candidate"], ["street_code"]].copy()
    refs["flags"] = ["job_loss;band_up" if i < 3 else "income_drop" if i < 5 else ""
                     for i in range(len(refs))]
    refs.to_parquet(ws / "scores" / AS_OF / "referrals.parquet")
    summary = {"as_of": AS_OF, "flags": {"job_loss": 3, "households": 5}}
    (ws / "scores" / AS_OF / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return s


def _registered_model(tmp_path, reference: pd.DataFrame) -> str:
    """An MLflow store with model ``m`` version 1 whose run holds a training reference and a
    fairness report (as `assist train` logs them)."""
    from assist.experiments import tracking
    from assist.reports.model import fairness_report

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    c = tracking.client(uri)
    exp = c.create_experiment("t", artifact_location=(tmp_path / "art").as_uri())
    run_id = c.create_run(exp).info.run_id
    art = tmp_path / "run"
    (art / "reports").mkdir(parents=True)
    reference.to_parquet(art / "training_reference.parquet", index=False)
    payload, html = fairness_report(_biased_predictions(), groups=["head_hukou"], share=0.1,
                                    run_id=run_id)
    (art / "reports" / "fairness.json").write_text(json.dumps(payload), encoding="utf-8")
    (art / "reports" / "fairness.html").write_text(html, encoding="utf-8")
    (art / "report.json").write_text(json.dumps({"model": {"last_training_month": MONTHS[0]}}),
                                     encoding="utf-8")
    c.log_artifacts(run_id, str(art))
    tracking.register_version(c, name="m", run_id=run_id, tags={})
    return uri


def test_month_reports_against_the_model_training_data(district, tmp_path):
    from assist.experiments import tracking
    from assist.pipelines.month_reports import write_month_reports

    ws, _, scores = district
    _snapshot_files(ws)
    feats = pd.read_parquet(ws / "features" / MONTHS[0] / "features.parquet")
    reference = feats[CATALOG.ids].assign(probability=scores[MONTHS[0]]["probability"]
                                          .reindex(feats.index).to_numpy())
    uri = _registered_model(tmp_path, reference.reset_index(drop=True))
    rep = write_month_reports(workspace=tmp_path / "ws", scores_dir=ws / "scores",
                              store=ws / "store", as_of=AS_OF, k=0.3333, model_version="m/1",
                              mlflow_uri=uri)
    assert set(rep.written) == {"coverage", "early_warning", "drift", "fairness"}
    assert rep.notes == [] and rep.logged_run
    folder = tmp_path / "ws" / "reports" / AS_OF
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        f"{n}.{x}" for n in rep.written for x in ("json", "html"))
    drift = json.loads((folder / "drift.json").read_text(encoding="utf-8"))
    assert drift["reference"].startswith("training data of m/1 (2026-09)")
    assert drift["features"][0]["feature"].startswith("score")
    assert drift["reference_info"] == {"kind": "training", "model": "m/1", "month": "2026-09"}
    assert drift["features"][0]["previous_month"] == MONTHS[0]  # last month: second column
    page = (folder / "drift.html").read_text(encoding="utf-8")
    assert "模型 m/1 的训练数据（2026-09）" in page and "training data of model m/1" in page
    # the reference is the first month's data: the same PSI as against that month on disk
    on_disk = CliRunner().invoke(app, ["report", "drift", "--as-of", AS_OF, "--json"],
                                 env={**ENV, "ASSIST_WORKSPACE": str(ws)})
    by_feature = {r["feature"]: r["psi"] for r in json.loads(on_disk.stdout)["features"]}
    for r in drift["features"][1:]:
        assert r["psi"] == pytest.approx(by_feature[r["feature"]], nan_ok=True), r["feature"]
    ew = json.loads((folder / "early_warning.json").read_text(encoding="utf-8"))
    assert (ew["totals"]["job_loss"], ew["totals"]["band_up"], ew["totals"]["income_drop"],
            ew["totals"]["households"]) == (3, 3, 2, 5)
    fair = json.loads((folder / "fairness.json").read_text(encoding="utf-8"))
    assert fair["model_version"] == "m/1" and fair["scored_month"] == fair["as_of"] == AS_OF
    assert "tpr" in next(g for g in fair["audits"]["truth"]["groups"]
                         if g["group"] == "non-local")["flags"]
    c = tracking.client(uri)
    logged = {a.path for a in c.list_artifacts(rep.logged_run, f"reports/{AS_OF}")}
    assert logged == {f"reports/{AS_OF}/drift.json", f"reports/{AS_OF}/drift.html"}
    assert f"drift.{AS_OF}.psi.score" in c.get_run(rep.logged_run).data.metrics


def test_month_reports_with_a_model_file_and_no_tracking(district, tmp_path):
    from assist.pipelines.month_reports import write_month_reports

    ws, _, _ = district
    _snapshot_files(ws)
    rep = write_month_reports(workspace=tmp_path, scores_dir=ws / "scores", store=ws / "store",
                              as_of=AS_OF, k=0.3333, model_version="file:need_model.json",
                              mlflow_uri=None)
    assert set(rep.written) == {"coverage", "early_warning", "drift"}
    assert rep.logged_run is None and len(rep.notes) == 2
    drift = json.loads((tmp_path / "reports" / AS_OF / "drift.json").read_text(encoding="utf-8"))
    assert drift["reference"] == MONTHS[0]  # fallback: the earliest month on disk
