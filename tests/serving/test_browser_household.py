"""The household page and the API docs in Chromium: two caseworkers edit one decision from two
browsers, the second merges and saves, and the history shows both revisions; a form error
sits beside its field; Swagger UI and ReDoc render with every non-local request blocked;
screenshots of the household page (Chinese, 特大 text, 390 px phone).

Skipped without ``/usr/bin/chromium`` (a failure when ``CI=true``), like ``test_browser``.
"""

from __future__ import annotations

from urllib.parse import urlparse

from tests.serving import test_browser as tb
from tests.serving.test_browser import TIMEOUT_MS, check_page, shot, sign_in

base_url, chromium, page = tb.base_url, tb.chromium, tb.page  # the module's fixtures
#: what ReDoc's bundle asks the internet for by itself: its "powered by" logo (cosmetic)
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def _context(chromium, base_url, **kw):  # noqa: ANN001, ANN202
    context = chromium.new_context(base_url=base_url, locale="zh-CN",
                                   viewport=kw.pop("viewport", {"width": 1280, "height": 900}),
                                   **kw)
    context.set_default_timeout(TIMEOUT_MS)
    return context


def test_two_browsers_edit_one_decision_and_the_second_merges(chromium, base_url):
    first_ctx, second_ctx = _context(chromium, base_url), _context(chromium, base_url)
    try:
        first, second = first_ctx.new_page(), second_ctx.new_page()
        sign_in(first, "cw1")
        first.goto("/households/hS01a")
        first.get_by_label("确有困难").check()
        first.get_by_label("医疗救助").check()
        first.get_by_role("button", name="保存处理结果").click()
        first.wait_for_url("**/households/hS01a?saved=1")
        sign_in(second, "cw1")
        second.goto("/households/hS01a")            # the second editor opens version 1
        first.get_by_label("备注（数据未能反映的情况）").fill("第一位：已核实病历")
        first.get_by_role("button", name="保存处理结果").click()
        first.wait_for_url("**/households/hS01a?saved=1")     # version 2
        second.get_by_label("最低生活保障").check()
        second.get_by_label("备注（数据未能反映的情况）").fill("第二位：家中无其他收入")
        second.get_by_role("button", name="保存处理结果").click()
        second.wait_for_load_state()
        merge = second.locator("#merge-table")
        assert "第一位：已核实病历" in merge.inner_text()
        assert "第二位：家中无其他收入" in merge.inner_text()
        note = second.get_by_label("备注（数据未能反映的情况）")
        assert note.input_value() == "第二位：家中无其他收入"       # kept, not lost
        assert second.get_by_label("最低生活保障").is_checked()
        check_page(second, "h4-01-household-merge")
        note.fill("第一位：已核实病历；第二位：家中无其他收入")
        second.get_by_role("button", name="保存合并后的决定").click()
        second.wait_for_url("**/households/hS01a?saved=1")
        history = second.locator("#decision-history > li")
        assert history.count() == 3
        assert "第3版" in history.nth(0).inner_text() and "修改决定" in history.nth(0).inner_text()
        assert "第2版" in history.nth(1).inner_text()
        assert "第二位：家中无其他收入" in history.nth(0).inner_text()
        check_page(second, "h4-02-household-history")
    finally:
        first_ctx.close()
        second_ctx.close()


def test_a_form_error_sits_beside_its_field(page):
    sign_in(page, "cw1")
    page.goto("/households/hS01a")
    page.get_by_label("经核实无困难").check()                       # high band: needs a reason
    page.get_by_role("button", name="保存处理结果").click()
    page.wait_for_load_state()
    error = page.locator("#override_reason-error").bounding_box()
    box = page.locator("#override_reason").bounding_box()
    button = page.get_by_role("button", name="保存处理结果").bounding_box()
    assert error and box and button
    assert abs(box["y"] - (error["y"] + error["height"])) < 80      # right above its field
    assert button["y"] - error["y"] < 900                            # near the Save button
    assert page.locator("#override_reason").get_attribute("aria-invalid") == "true"


def test_household_page_at_the_largest_text_on_a_phone(chromium, base_url):
    context = _context(chromium, base_url, viewport={"width": 390, "height": 844})
    try:
        pg = context.new_page()
        sign_in(pg, "cw1")
        pg.goto("/prefs?font=xlarge&next=/households/hS01a")
        pg.wait_for_url("**/households/hS01a")
        assert pg.locator("html").get_attribute("class") == "font-xlarge"
        assert pg.evaluate("document.documentElement.scrollWidth") <= 390
        assert "慈善帮扶" in pg.locator("#current-benefits").inner_text()
        shot(pg, "h4-03-household-zh-xlarge-phone")
    finally:
        context.close()


def test_api_docs_render_with_the_network_blocked(chromium, base_url):
    context = _context(chromium, base_url)
    blocked: list[str] = []

    def local_only(route) -> None:  # noqa: ANN001
        if urlparse(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    try:
        context.route("**/*", local_only)
        pg = context.new_page()
        pg.goto("/api/v1/docs")
        pg.wait_for_selector(".opblock", timeout=TIMEOUT_MS)     # Swagger UI drew operations
        assert pg.locator(".opblock").count() > 10
        assert pg.get_by_text("/api/v1/households/{household_id}/decisions/history").count()
        shot(pg, "h4-04-api-docs-offline")
        assert blocked == []                      # Swagger UI did not even try the internet
        pg.goto("/api/v1/redoc")
        pg.wait_for_selector("[data-section-id]", timeout=TIMEOUT_MS)    # ReDoc drew sections
        assert pg.locator("[data-section-id]").count() > 10
        assert set(blocked) <= {REDOC_LOGO}       # only ReDoc's own logo, blocked, cosmetic
    finally:
        context.close()
