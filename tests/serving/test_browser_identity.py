"""The caseworker's identity tools in a real browser (Playwright, Debian's chromium): search a
household by its head's ID number, see its name and address, print its visit sheet to PDF
with Chromium (``page.pdf()``: one A4 page per sheet, the name in it), and screenshots of the
visit sheet in Chinese at 特大 text size on a 390 px phone; a manager sees none of it."""

from __future__ import annotations

import re
import shutil
import subprocess

from tests.serving.test_browser import (  # noqa: F401 - fixtures
    CHROMIUM,
    base_url,
    check_page,
    chromium,
    page,
    sign_in,
)
from tests.serving.test_identity import PEOPLE, SECRETS, vault  # noqa: F401 - fixture

#: a PDF's page objects (not the /Pages tree node)
PDF_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


def _pdf_text(pdf: bytes, tmp_path) -> str | None:  # noqa: ANN001
    """The PDF's text by poppler's pdftotext when installed (None otherwise)."""
    tool = shutil.which("pdftotext")
    if tool is None:
        return None
    path = tmp_path / "sheet.pdf"
    path.write_bytes(pdf)
    return subprocess.run([tool, "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True, timeout=60).stdout.decode("utf-8")


def test_caseworker_finds_by_id_number_and_prints_the_visit_sheet(page, vault, tmp_path):  # noqa: F811
    name, address, _, id_number = PEOPLE["hS01a"]
    sign_in(page, "cw1")
    page.get_by_role("link", name="查找家庭").click()
    page.wait_for_url("**/search")
    page.get_by_label("身份证号、姓名或地址").fill(id_number)
    page.get_by_role("button", name="查找").click()
    page.wait_for_url("**/search?q=*")
    row = page.locator("#search-results tbody tr")
    assert row.count() == 1 and name in row.inner_text()
    check_page(page, "h2-01-search-by-id-number")
    row.get_by_role("link", name="hS01a").click()
    page.wait_for_url("**/households/hS01a")
    identity = page.locator("#household-identity")
    assert name in identity.inner_text() and address in identity.inner_text()
    check_page(page, "h2-02-household-identity")
    page.get_by_role("link", name="走访单（可打印）").click()
    page.wait_for_url("**/visit-sheet/hS01a")
    sheet = page.locator("article.visit-sheet")
    assert sheet.count() == 1 and name in sheet.inner_text()
    check_page(page, "h2-03-visit-sheet")
    pdf = page.pdf(format="A4", print_background=True)
    assert len(PDF_PAGE.findall(pdf)) == 1  # the sheet declares one page and fits it
    text = _pdf_text(pdf, tmp_path)
    if text is not None:
        assert name in text and "Visit sheet" in text and "查找家庭" not in text  # no navigation


def test_a_batch_prints_one_page_per_household(page, vault):  # noqa: F811
    sign_in(page, "cw1")
    page.goto("/search?q=东湖街道")
    boxes = page.locator("#search-results input[type=checkbox]")
    assert boxes.count() == 2
    for i in range(2):
        boxes.nth(i).check()
    page.get_by_role("button", name="打印所选家庭的走访单").click()
    page.wait_for_url("**/visit-sheet?ids=*")
    declared = page.locator("article.visit-sheet").evaluate_all(
        "els => els.map(e => Number(e.dataset.pages))")
    assert declared == [1, 1]
    pdf = page.pdf(format="A4")
    assert len(PDF_PAGE.findall(pdf)) == sum(declared)


def test_visit_sheet_on_a_phone_at_the_largest_text(page, vault):  # noqa: F811
    page.set_viewport_size({"width": 390, "height": 900})
    sign_in(page, "cw1")
    page.goto("/prefs?font=xlarge&next=/visit-sheet/hS01a")
    page.wait_for_url("**/visit-sheet/hS01a")
    assert page.locator("html").get_attribute("class") == "font-xlarge"
    assert PEOPLE["hS01a"][0] in page.locator("article.visit-sheet").inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{width} px wide"
    check_page(page, "h2-04-visit-sheet-zh-xlarge-phone")


def test_a_manager_sees_no_identity_in_the_browser(page, vault):  # noqa: F811
    sign_in(page, "mgr")
    page.goto("/households/hS01a")
    text = page.locator("main").inner_text()
    assert [s for s in SECRETS if s in text] == []
    assert page.locator("#household-identity").count() == 0
    assert page.goto("/visit-sheet/hS01a").status == 403
    assert page.goto("/search").status == 403
    assert CHROMIUM.exists()
