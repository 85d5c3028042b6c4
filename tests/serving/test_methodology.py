"""The public methodology page: open without sign-in in Chinese and English, generated from the
catalog (every indicator with its cutoff), no household data, the production model's figures
when a registry exists and a plain "none yet" otherwise."""

from __future__ import annotations

import re

import pytest

from assist.experiments.card import LIMITATIONS
from assist.features import CATALOG
from assist.features.codes import DEPARTMENTS
from assist.serving.models import AuditEntry
from assist.serving.pages.methodology import LIMITATIONS as PAGE_LIMITATIONS
from assist.serving.pages.methodology import UNITS
from tests.serving import test_pages, test_pages_models
from tests.serving.conftest import HOUSEHOLDS

browser = test_pages.browser
mlflow_workspace = test_pages_models.mlflow_workspace
with_registry = test_pages_models.with_registry
empty_workspace = test_pages_models.empty_workspace
PSEUDONYM = re.compile(r"\b[hp][0-9a-f]{20}\b")


def _row(page: str, indicator_id: str) -> str:
    m = re.search(rf'<tr id="ind-{indicator_id}">.*?</tr>', page, flags=re.S)
    assert m, indicator_id
    return m.group(0)


def test_anonymous_chinese_page_generated_from_the_catalog(browser, empty_workspace):
    r = browser().get("/methodology")
    assert r.status_code == 200 and 'lang="zh-CN"' in r.text
    page = r.text
    assert "服务如何运作" in page and "退出" not in page  # nobody signed in
    for ind in CATALOG:
        row = _row(page, ind.id)
        assert ind.name_zh in row and f"{ind.cutoff:g}" in row, ind.id
        assert ("高于" if ind.direction == 1 else "低于") in row, ind.id
        assert f"{ind.weight:.1%}" in row, ind.id  # the catalog's weight
    assert sum(ind.weight for ind in CATALOG) == pytest.approx(1.0)
    assert f"{len(CATALOG)} 项指标" in page
    for dim in CATALOG.dimension_entries:
        assert f"<h3>{dim.name_zh} · " in page
    for label in DEPARTMENTS.values():
        assert label.zh in page
    assert "评分从不单独作出决定" in page and "数据有误" in page
    assert "服务窗口受理。" in page  # Chinese punctuation in the Chinese page
    assert "尚未有模型注册为生产版本" in page


def test_english_page(browser, empty_workspace):
    page = browser(lang="en").get("/methodology").text
    assert 'lang="en"' in page and "How the service works" in page
    for ind in CATALOG:
        assert ind.name_en.replace("'", "&#39;") in _row(page, ind.id), ind.id
    assert "No model is registered for production yet" in page
    assert "Selective labels" in page


def test_no_household_data_and_no_audit(browser, empty_workspace, app):
    with app.state.sessions() as s:
        before = s.query(AuditEntry).count()
    page = browser().get("/methodology").text
    assert not PSEUDONYM.search(page)
    assert not any(h in page for h in HOUSEHOLDS)
    with app.state.sessions() as s:
        assert s.query(AuditEntry).count() == before


def test_production_figures(browser, with_registry):
    page = browser().get("/methodology").text
    figures = page.split('id="m-fig"')[1].split("</section>")[0]
    assert "版本 2" in figures and "2026-09" in figures
    assert "55.0%" in figures and "45.0%" in figures and "58.0%" in figures  # model, baselines
    assert "0.750" in figures  # ROC-AUC
    assert "0.125" in figures  # Brier score
    en = browser(lang="en").get("/methodology").text
    assert "ROC-AUC, verified (latest month)" in en and "version 2" in en


def test_linked_from_sign_in_and_footer(browser):
    c = browser()
    assert 'href="/methodology"' in c.get("/login").text.split("</main>")[0]
    assert 'href="/methodology"' in c.get("/login").text.split("<footer>")[1]


def test_page_limitations_hold_the_model_cards():
    assert set(LIMITATIONS) <= set(PAGE_LIMITATIONS)
    assert {i.unit for i in CATALOG} - {"m²"} <= set(UNITS)
