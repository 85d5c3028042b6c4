"""The fairness page in a real browser (Playwright, Debian's chromium, the tiny district of
conftest) at 1280 × 900: the findings and the first table are on the first screen; the warning
sign appears only beside groups whose interval lies wholly outside the band (never beside a
group within it or one too small to judge); pairs, favourable findings and groups not judged
are folded; axe-core finds no serious violation. Screenshot: ``test-artifacts/screenshots``."""

from __future__ import annotations

import pytest

from assist.reports.render import fairness_html
from assist.reports.report import write_report
from tests.serving.conftest import app_workspace
from tests.serving.test_browser import (  # noqa: F401 - fixtures
    axe_violations,
    base_url,
    chromium,
    page,
    shot,
    sign_in,
)
from tests.serving.test_pages_reports import AS_OF, biased_payload

VIEWPORT = {"width": 1280, "height": 900}
#: where each judged group's row stands: (text of the row's header, warning expected)
ROWS = (("男", True), ("女", False), ("是", False), ("西林街道", False))


@pytest.fixture
def fairness_report(app, settings, tmp_path):
    """The biased fairness report (men reached less often beyond chance) in a workspace."""
    payload = biased_payload()
    with app_workspace(app, settings, tmp_path) as ws:
        write_report(ws / "reports" / AS_OF, "fairness", payload, fairness_html(payload))
        yield payload


def test_first_screen_holds_the_findings_and_the_first_table(page, fairness_report):  # noqa: F811
    page.set_viewport_size(VIEWPORT)
    sign_in(page, "mgr")
    assert page.goto("/fairness").status == 200
    top = page.locator("main table").first.evaluate("t => t.getBoundingClientRect().top")
    assert 0 < top < VIEWPORT["height"] - 80, top  # the findings table and its first row
    # the first table is the harmful findings' one, and it names the group in words
    first = page.locator("main table").first
    assert "户主性别：男" in first.inner_text() and "召回率 0.33" in first.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    for header, warned in ROWS:
        row = page.locator("section.card table.fair tbody tr",
                           has=page.locator("th", has_text=header)).first
        assert ("⚠" in row.inner_text()) == warned, header
    # folded: favourable findings, pairs of attributes, groups not judged
    for summary in ("名单覆盖显著多于参照组的群体", "户主性别 & 有残疾成员"):
        details = page.locator("details", has=page.locator("summary", has_text=summary)).first
        assert details.get_attribute("open") is None, summary
    assert page.get_by_text("Katz 对数区间").is_visible()
    shot(page, "24-fairness-first-screen")
    assert axe_violations(page) == []
