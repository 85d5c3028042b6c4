"""The pages in a real browser: Playwright driving Debian's chromium against uvicorn serving the
tiny district in-process. Caseworker round trip, manager pages (coverage from its report,
fairness, early warnings, drift, overrides), the data scientist's model versions and their
comparison, jurisdiction, keyboard focus, a contest recorded, decided and counted with the
household's printable notice,
screenshots of every page (``test-artifacts/screenshots``) and axe-core (vendored, MPL-2.0,
test-only) with zero serious or critical violations on every page.

Skipped without ``/usr/bin/chromium``; a failure when ``CI=true`` (``.ci/run`` installs it).
Never run ``playwright install``: it downloads browsers.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.serving.conftest import PASSWORD, app_workspace

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
TIMEOUT_MS = 15_000

if not CHROMIUM.exists():
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing: apt-get install -y chromium",
                    pytrace=False)
    pytest.skip(f"{CHROMIUM} not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def base_url(app, settings) -> Iterator[str]:
    """uvicorn serving the test app on 127.0.0.1 in a thread (stopped after the module)."""
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("pages do not depend on the back end; test_pages covers PostgreSQL")
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def chromium(base_url):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True,
                                    timeout=TIMEOUT_MS)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, base_url):
    context = chromium.new_context(base_url=base_url, viewport={"width": 1280, "height": 900},
                                   locale="zh-CN")
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations of the current page (WCAG 2.1 A/AA)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("""() => axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
    return [f"{v['id']} ({v['impact']}): {v['help']} x{len(v['nodes'])}"
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def check_page(page, name: str) -> None:
    shot(page, name)
    assert axe_violations(page) == [], name


def sign_in(page, user: str) -> None:
    page.goto("/login")
    page.get_by_label("用户名").fill(user)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_load_state()


def test_caseworker_round_trip(page):
    page.goto("/login")
    check_page(page, "01-login")
    sign_in(page, "cw1")
    assert page.url.endswith("/referrals")
    row = page.locator("tr", has_text="hS01a")
    assert "待走访" in row.inner_text()
    check_page(page, "02-referrals-caseworker")
    page.get_by_role("link", name="hS01a").click()
    page.wait_for_url("**/households/hS01a")
    assert page.locator("svg.chart").count() == 2
    check_page(page, "03-household")
    page.get_by_label("确有困难").check()
    page.get_by_label("医疗救助").check()
    page.get_by_label("备注（数据未能反映的情况）").fill("老人独居，药费负担重")
    page.get_by_label("好评").check()
    page.get_by_role("button", name="保存处理结果").click()
    page.wait_for_url("**/households/hS01a?saved=1")
    assert page.get_by_role("status").inner_text() == "处理结果已保存。"
    check_page(page, "04-household-saved")
    page.get_by_role("link", name="返回转介名单").click()
    page.wait_for_url("**/referrals")
    assert "确有困难" in page.locator("tr", has_text="hS01a").inner_text()
    check_page(page, "05-referrals-after-decision")


def test_manager_coverage_and_model(page):
    sign_in(page, "mgr")
    assert page.url.endswith("/coverage")
    assert page.locator("svg.chart").count() == 1
    assert "东湖街道" in page.locator("table").inner_text()
    check_page(page, "06-coverage")
    page.get_by_role("link", name="模型说明").click()
    page.wait_for_url("**/model")
    check_page(page, "07-model")
    page.get_by_role("link", name="转介名单").click()
    check_page(page, "08-referrals-manager")


def test_caseworker_cannot_open_another_street(page):
    sign_in(page, "cw1")
    response = page.goto("/households/hS02a")
    assert response.status == 404
    assert "不在您负责的街道" in page.locator("main").inner_text()
    check_page(page, "09-not-found")


def test_english_large_text_and_keyboard(page):
    sign_in(page, "cw1")
    page.get_by_role("link", name="English").click()
    page.get_by_role("link", name="Extra large").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("html").get_attribute("class") == "font-xlarge"
    size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert size == "22px"
    page.keyboard.press("Tab")  # first stop: the skip link, visible when focused
    focused = page.evaluate("document.activeElement.className")
    assert focused == "skip"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    check_page(page, "10-referrals-en-xlarge")
    page.goto("/households/hS01a")
    check_page(page, "11-household-en-xlarge")


def test_contest_decided_and_counted(page):
    """A caseworker records a visit and a contest, the notice prints in Chinese with the
    factors, a manager decides the contest with a reason and the overrides page counts it."""
    sign_in(page, "cw1")
    page.goto("/households/hS01a")
    page.get_by_label("确有困难").check()
    page.get_by_role("button", name="保存处理结果").click()
    page.wait_for_url("**/households/hS01a?saved=1")
    page.get_by_label("数据有误").check()
    page.get_by_label("家庭的陈述").fill("医疗支出已由单位报销，数据不准")
    page.get_by_label("有异议的数据（可选）").select_option("oop_medical_ratio")
    page.get_by_role("button", name="登记申诉").click()
    page.wait_for_url("**/households/hS01a?contested=1")
    assert page.get_by_role("status").inner_text() == "申诉已登记，并已转交负责人处理。"
    assert "待处理" in page.locator("#household-contests").inner_text()
    check_page(page, "20-household-contested")
    page.get_by_role("link", name="家庭告知书（可打印）").click()
    page.wait_for_url("**/households/hS01a/notice")
    assert page.locator("#notice-factors").inner_text().split("\n")[0].startswith("收入低")
    assert "第二十四条" in page.locator("#notice").inner_text()
    check_page(page, "21-notice")
    page.emulate_media(media="print")  # A4, without navigation
    assert not page.locator(".main-nav").is_visible() and page.locator("#notice").is_visible()
    page.emulate_media(media="screen")
    page.context.clear_cookies()
    sign_in(page, "mgr")
    page.goto("/contests")
    contest = page.locator("section.contest", has_text="hS01a")
    assert "数据有误" in contest.inner_text()
    check_page(page, "22-contests-queue")
    contest.get_by_label("申诉成立").check()
    contest.get_by_label("裁决理由（必填）").fill("经核对，医疗费用已报销，改为人工复核")
    contest.get_by_role("button", name="作出裁决").click()
    page.wait_for_url("**/contests?decided=1")
    assert page.locator("section.contest .contest-status").first.inner_text() == "申诉成立"
    page.goto("/overrides")
    row = page.locator("#contest-counts tr", has_text="东湖街道")
    assert row.locator("td").all_inner_texts() == ["0", "1", "0", "0"]
    check_page(page, "23-overrides-contests")


@pytest.fixture(scope="module")
def report_workspace(tmp_path_factory) -> Path:
    """A workspace holding stored fairness, coverage and drift reports and an MLflow store
    with three registered versions (made as in test_pages_reports / test_pages_models)."""
    from assist.reports.report import drift_html, write_report
    from tests.serving.test_pages_models import make_registry
    from tests.serving.test_pages_reports import AS_OF, coverage_payload, drift_payload, fairness_payload

    ws = tmp_path_factory.mktemp("browser-ws")
    folder = ws / "reports" / AS_OF
    write_report(folder, "fairness", fairness_payload(), "<html><body>fairness</body></html>")
    write_report(folder, "coverage", coverage_payload(), "<html><body>coverage</body></html>")
    d = drift_payload(ws)
    write_report(folder, "drift", d, drift_html(d))
    make_registry(ws)
    return ws


@pytest.fixture
def with_reports(app, settings, report_workspace):
    with app_workspace(app, settings, report_workspace) as ws:
        yield ws


def test_manager_report_pages(page, with_reports):
    sign_in(page, "mgr")
    assert page.url.endswith("/coverage")
    assert "数据来自覆盖情况报告" in page.locator("main").inner_text()
    check_page(page, "12-coverage-report")
    page.get_by_role("link", name="公平性", exact=True).click()
    page.wait_for_url("**/fairness")
    men = page.locator("table.fair tr", has_text="男").first  # 4 in need: too few to judge
    assert "⚠" not in men.inner_text() and "未作判断" in men.inner_text()
    assert page.locator("svg.chart").count() == 2
    page.locator("summary").first.focus()  # pairs of attributes open from the keyboard
    page.keyboard.press("Enter")
    assert page.locator("details").first.get_attribute("open") is not None
    check_page(page, "13-fairness")
    for name, path, expect, shot_name in (
            ("动态预警", "early-warning", "收入骤降", "14-early-warning"),
            ("数据漂移", "drift", "1 项需处置", "15-drift"),
            ("不采纳评分", "overrides", "个案库中尚无社工处理结果", "16-overrides")):
        page.get_by_role("link", name=name, exact=True).click()
        page.wait_for_url(f"**/{path}")
        assert expect in page.locator("main").inner_text()
        check_page(page, shot_name)


def test_data_scientist_models_and_comparison(page, with_reports):
    sign_in(page, "ds")
    assert page.url.endswith("/models")
    assert "审核未通过" in page.locator("tr", has_text="precision_at_k").inner_text()
    check_page(page, "17-models")
    page.get_by_role("link", name="对比两个版本").click()
    page.wait_for_url("**/models/compare")
    check_page(page, "18-compare")
    page.get_by_label("第一个版本").select_option("1")
    page.get_by_label("第二个版本").select_option("2")
    page.get_by_role("button", name="对比").click()
    page.wait_for_url("**/models/compare?a=1&b=2")
    assert "更好" in page.locator("main").inner_text()
    check_page(page, "19-compare-1-2")
    assert page.goto("/coverage").status == 403


def test_report_pages_in_english_large_text(page, with_reports):
    sign_in(page, "mgr")
    page.goto("/prefs?lang=en&font=large&next=%2Ffairness")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "harm is being missed" in page.locator("main").inner_text()
    check_page(page, "20-fairness-en-large")


@pytest.mark.parametrize(("user", "paths"), [
    ("cw1", ["/referrals", "/households/hS01a", "/methodology", "/my-visits"]),
    ("mgr", ["/coverage", "/fairness", "/drift", "/early-warning", "/overrides", "/contests",
             "/methodology", "/assignments", "/referrals"]),
])
def test_no_page_scrolls_sideways_on_a_phone_at_the_largest_text(page, with_reports, user, paths):
    """390 px wide, extra-large text: wide tables scroll inside their own frame; the page
    itself never needs a sideways scroll (long pseudonyms, fact lists and filters wrap)."""
    page.set_viewport_size({"width": 390, "height": 900})
    sign_in(page, user)
    page.goto("/prefs?font=xlarge&next=/")
    for path in paths:
        response = page.goto(path)
        assert response.status == 200, path
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path}: {width} px wide"
