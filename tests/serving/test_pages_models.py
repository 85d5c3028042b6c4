"""Data-scientist pages over a real MLflow store (SQLite, in the test's workspace) holding
three registered versions of the need model: 1 (old, no run report), 2 (promoted through
the gate: production), 3 (newest, worse than production: refused by the gate)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from assist.experiments import registry, tracking
from assist.serving.pages.versions import MODEL_NAME
from tests.serving import test_pages
from tests.serving.conftest import app_workspace

browser = test_pages.browser  # the pages' fixture: a signed-in client per test

#: version -> (pooled verified p@k, logistic baseline, deprivation baseline, roc_auc,
#:             recall of women, recall of men, seed)
VERSIONS = {"1": (0.50, 0.45, 0.40, 0.70, 0.60, 0.55, 1),
            "2": (0.55, 0.45, 0.58, 0.75, 0.70, 0.66, 2),
            "3": (0.40, 0.45, 0.42, 0.72, 0.72, 0.30, 3)}


def _report(version: str) -> dict:
    return {"gate": {"tolerance": 0.0}, "data": {"fingerprint": "same"},
            "folds": [{"name": "2026-08"}, {"name": "2026-09"}], "latest_month": "2026-09",
            "disparity": {"min_ratio": 0.8, "max_ratio": 1.25, "min_positives": 20,
                          "rows": [], "problems": [], "not_judged": []}}


def make_registry(workspace: Path) -> str:
    """Register the three versions in ``<workspace>/mlflow.db``; returns the tracking URI."""
    uri = f"sqlite:///{(workspace / 'mlflow.db').resolve()}"
    c = tracking.client(uri)
    for v, (pak, logistic, index, auc, women, men, seed) in VERSIONS.items():
        run = tracking.start_run(c, uri=uri, experiment=MODEL_NAME, run_name=f"v{v}", tags={})
        tracking.log_values(c, run, params={"model.seed": seed, "model.num_leaves": 15},
                            metrics={registry.GATE_KEY: pak,
                                     "pooled.verified.logistic.precision_at_k": logistic,
                                     "pooled.verified.deprivation.precision_at_k": index,
                                     "pooled.truth.model.precision_at_k": pak + 0.1,
                                     "latest.verified.model.roc_auc": auc,
                                     "latest.verified.model.brier": 0.2 - auc / 10,
                                     "group.verified.head_sex.F.recall_at_overall_k": women,
                                     "group.verified.head_sex.M.recall_at_overall_k": men})
        if v != "1":
            c.log_text(run, json.dumps(_report(v)), tracking.REPORT_ARTIFACT)
        assert tracking.register_version(c, name=MODEL_NAME, run_id=run, tags={}) == v
        tracking.finish_run(c, run)
        if v == "2":
            registry.promote(c, name=MODEL_NAME, version="2", user="ds")
    return uri


@pytest.fixture(scope="module")
def mlflow_workspace(tmp_path_factory) -> Path:
    ws = tmp_path_factory.mktemp("mlws")
    make_registry(ws)
    return ws


@pytest.fixture
def with_registry(app, settings, mlflow_workspace):
    with app_workspace(app, settings, mlflow_workspace) as ws:
        yield ws


@pytest.fixture
def empty_workspace(app, settings, tmp_path):
    with app_workspace(app, settings, tmp_path) as ws:
        yield ws


def _version_row(page: str, v: str) -> str:
    m = re.search(rf'<tr[^>]*>\s*<th scope="row">{v}\b.*?</tr>', page, flags=re.S)
    assert m, v
    return m.group(0)


def test_models_list(browser, with_registry):
    page = browser("ds").get("/models").text
    assert "模型版本" in page and MODEL_NAME in page
    rows = re.findall(r'<tr[^>]*>\s*<th scope="row">(\d+)', page)
    assert rows == ["3", "2", "1"]  # newest first
    v2 = _version_row(page, "2")
    assert "生产版本" in v2 and "上线时通过审核" in v2 and "55.0%" in v2
    # beats the logistic baseline (45 %), not the deprivation index (58 %)
    assert v2.count("✓ 已超过") == 1 and v2.count("✗ 未超过") == 1
    v3 = _version_row(page, "3")
    assert "审核未通过" in v3 and "precision_at_k 0.400 is worse than production version 2" in v3
    assert "✗ 未超过" in v3 and "生产版本" not in v3
    assert "无审核报告" in _version_row(page, "1")
    assert 'href="/models/compare"' in page


def test_compare_defaults_to_production_vs_newest(browser, with_registry):
    page = browser("ds").get("/models/compare").text
    assert '<option value="2" selected>' in page.split('id="v-a"')[1].split("</select>")[0]
    assert '<option value="3" selected>' in page.split('id="v-b"')[1].split("</select>")[0]
    head = re.search(r'<th scope="row">前k名精确率（核实结果，测试月份合并）</th>(.*?)</tr>',
                     page, flags=re.S).group(1)
    assert "55.0%" in head and "40.0%" in head and "−15.0 个百分点" in head and "更差" in head
    men = re.search(r'<th scope="row">男</th>(.*?)</tr>', page, flags=re.S).group(1)
    assert "66.0%" in men and "30.0%" in men and "−36.0 个百分点" in men and "▼" in men
    assert page.count('<svg class="chart"') == 1
    assert "model.seed" in page  # the params that differ


def test_compare_chosen_versions_and_bad_ones(browser, with_registry):
    c = browser("ds")
    page = c.get("/models/compare?a=1&b=2").text
    head = re.search(r'<th scope="row">前k名精确率（核实结果，测试月份合并）</th>(.*?)</tr>',
                     page, flags=re.S).group(1)
    assert "+5.0 个百分点" in head and "更好" in head
    for q in ("a=9&b=2", "a=x&b=1", "a=" + "1" * 13):
        r = c.get(f"/models/compare?{q}")
        assert r.status_code == 404 and "该模型版本未注册" in r.text, q


def test_models_in_english(browser, with_registry):
    page = browser("ds", lang="en").get("/models").text
    assert "production" in page and "refused by the gate" in page and "beaten" in page


def test_no_registry_yet(browser, empty_workspace):
    page = browser("ds").get("/models").text
    assert "尚未注册任何模型" in page and "assist train" in page
    assert not (empty_workspace / "mlflow.db").exists()  # a page view never creates a store
    assert "至少需要两个已注册版本" in browser("ds").get("/models/compare").text


def test_registry_is_cached(browser, with_registry, app):
    c = browser("mgr")
    first = c.get("/models").text
    stamp = re.search(r"于 (\d\d:\d\d:\d\d)（UTC）读取", first).group(1)
    assert stamp in c.get("/models").text  # the second view reuses the first read
    assert browser("cw1").get("/models").status_code == 403
