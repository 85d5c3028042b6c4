"""The referral list and the visit lists on a phone, in a real browser (Playwright, Debian's
chromium, the tiny district of conftest): below 600 px the list is a stack of cards with no
sideways scroll, also at 特大 text; chart labels stay at least 12 px on a phone and a desktop;
screenshots of the list (zh, 特大, phone) and of the visit pages go to
``test-artifacts/screenshots``."""

from __future__ import annotations

import pytest

from tests.serving.test_browser import (  # noqa: F401 - fixtures
    axe_violations,
    base_url,
    chromium,
    page,
    shot,
    sign_in,
)

#: smallest label size on screen, in CSS px, over every chart of the page
SMALLEST_CHART_LABEL = """() => Math.min(...[...document.querySelectorAll('svg.chart')].flatMap(svg => {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    return [...svg.querySelectorAll('text')].map(
        t => parseFloat(getComputedStyle(t).fontSize) * scale);
}))"""


def _xlarge_phone(pg, user: str) -> None:  # noqa: ANN001
    pg.set_viewport_size({"width": 390, "height": 900})
    sign_in(pg, user)
    pg.goto("/prefs?font=xlarge&next=/")


def test_the_list_is_cards_on_a_phone_at_the_largest_text(page):  # noqa: F811
    _xlarge_phone(page, "mgr")
    assert page.goto("/referrals").status == 200
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    row = page.locator("table.cards tbody tr", has_text="hS01a")
    assert row.evaluate("r => getComputedStyle(r).display") == "grid"  # a card, not a table row
    assert page.locator("table.cards thead").evaluate(
        "h => h.getBoundingClientRect().height") <= 1  # headers for screen readers only
    label = row.locator("td").first.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"街道内排名"'  # each cell names its column on the card
    assert row.evaluate("r => r.getBoundingClientRect().right") <= 390
    shot(page, "40-referrals-zh-xlarge-phone")
    assert axe_violations(page) == []
    page.goto("/assignments")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "41-assignments-zh-xlarge-phone")


def test_the_list_stays_a_table_on_a_desktop(page):  # noqa: F811
    sign_in(page, "cw1")
    row = page.locator("table.cards tbody tr", has_text="hS01a")
    assert row.evaluate("r => getComputedStyle(r).display") == "table-row"
    assert "街道内排名" in page.locator("#rank-note").inner_text()
    shot(page, "42-referrals-zh-desktop")


@pytest.mark.parametrize("width", [390, 1280])
def test_chart_labels_are_at_least_12px(page, width):  # noqa: F811
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, "cw1")
    page.goto("/prefs?font=xlarge&next=/households/hS01a")
    assert page.locator("svg.chart").count() >= 2
    assert page.evaluate(SMALLEST_CHART_LABEL) >= 12
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_my_visits_on_a_phone(page):  # noqa: F811
    _xlarge_phone(page, "cw1")
    assert page.goto("/my-visits").status == 200
    assert "我的走访" in page.locator("h1").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "43-my-visits-zh-xlarge-phone")
    assert axe_violations(page) == []
