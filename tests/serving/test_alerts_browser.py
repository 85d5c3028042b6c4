"""The urgent queue in a real browser (Playwright, Debian's chromium, axe-core): a caseworker
of the alert's street sees the banner on the referral list, opens the queue, acknowledges and
resolves the alert; a caseworker of another street sees none of it."""

from __future__ import annotations

from tests.serving.test_alerts import alerts, processor, silence_on_s01  # noqa: F401
from tests.serving.test_browser import TIMEOUT_MS, base_url, check_page, chromium, page, sign_in  # noqa: F401


def test_caseworker_acknowledges_and_resolves_in_the_browser(  # noqa: F811
        processor, sessions, page, chromium, base_url):  # noqa: F811
    processor.handle(silence_on_s01())
    [a] = alerts(sessions)
    sign_in(page, "cw1")
    banner = page.locator("section.meter-banner")
    assert "hS01a" in banner.inner_text() and "无用水" in banner.inner_text()
    check_page(page, "alerts-01-referrals-banner")
    banner.get_by_role("link", name="打开紧急预警列表").click()
    page.wait_for_url("**/alerts")
    check_page(page, "alerts-02-queue")
    card = page.locator(f"#alert-{a.id}")
    assert "平时用水规律" in card.inner_text()
    card.get_by_role("button", name="确认：我这就上门").click()
    page.wait_for_url("**/alerts?done=1")
    card = page.locator(f"#alert-{a.id}")
    assert card.locator(".alert-status").inner_text() == "已确认"
    card.get_by_label("已上门：安好").check()
    card.get_by_label("备注（可选）").fill("老人安好，出门买菜忘带手机")
    card.get_by_role("button", name="记录处置结果").click()
    page.wait_for_url("**/alerts?done=1")
    assert page.locator(f"#alert-{a.id} .alert-status").inner_text() == "已处置"
    check_page(page, "alerts-03-resolved")
    assert [x.status for x in alerts(sessions)] == ["resolved"]

    other = chromium.new_context(base_url=base_url, locale="zh-CN")
    other.set_default_timeout(TIMEOUT_MS)
    try:
        pg = other.new_page()
        sign_in(pg, "cw2")
        assert pg.locator("section.meter-banner").count() == 0
        pg.goto("/alerts")
        assert pg.locator(f"#alert-{a.id}").count() == 0
        assert "暂无预警" in pg.locator("main").inner_text()
    finally:
        other.close()
