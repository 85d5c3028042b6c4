"""Reports people print: every stored report in Chinese or English, as a print version (HTML,
A4 landscape print CSS) and as a PDF printed by Chromium, from the API and from the report
pages' download links. Titled in words (month, model version; no run hash), one language per
copy, header rows repeated on every page, nothing wider than the page; who may print; bad
language 422, unknown report 404, and 503 with one line when no printer is installed (the
print version still works).

The PDF tests need Debian's chromium (``.ci/run`` installs it): skipped without it, a
failure when ``CI=true``.
"""

from __future__ import annotations

import io
import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest

from assist.reports import pdf as printing
from assist.reports.cases import early_warning_report
from assist.reports.i18n import translators
from assist.reports.report import write_report
from tests.serving.test_pages_reports import (
    AS_OF,
    browser,  # noqa: F401 - the pages' fixture
    drift_payload,
    fairness_payload,
    workspace,  # noqa: F401 - the test's own workspace
)

API = "/api/v1/reports"
#: A4 landscape in PDF points (297 mm x 210 mm)
A4_LANDSCAPE = (841.9, 595.3)
#: the printable width of A4 landscape at 96 px/in with the 10 mm side margins (277 mm)
PRINTABLE_PX = 277 / 25.4 * 96
HAS_CHROMIUM = Path("/usr/bin/chromium").exists()
if not HAS_CHROMIUM and os.environ.get("CI", "").lower() == "true":
    pytest.fail("CI=true but /usr/bin/chromium is missing: apt-get install -y chromium",
                pytrace=False)
needs_chromium = pytest.mark.skipif(not HAS_CHROMIUM, reason="/usr/bin/chromium not installed")


@pytest.fixture
def printer(settings):
    """Chromium prints on one back end only: printing does not depend on the store."""
    if not settings.db_url.startswith("sqlite"):
        pytest.skip("printing does not depend on the back end (the sqlite run covers it)")


def many_streets(n: int = 150) -> dict:
    """An early-warning report over ``n`` streets: a table longer than one page."""
    frame = pd.DataFrame({"street_code": [f"X{i:03d}" for i in range(n)],
                          "flags": ["job_loss;income_drop"] * n})
    return early_warning_report(frame, as_of=AS_OF)


@pytest.fixture
def stored(workspace):  # noqa: F811 - the imported fixture
    """Early warning (a long street table), fairness and drift of 2026-10 as the batch writes
    them (the stored HTML is not what the print version reads: it renders the JSON)."""
    folder = workspace / "reports" / AS_OF
    for name, payload in (("early_warning", many_streets()), ("fairness", fairness_payload()),
                          ("drift", drift_payload(workspace))):
        write_report(folder, name, payload, f"<html><body>{name}</body></html>")
    return folder


def _pdf(data: bytes):
    from pypdf import PdfReader

    assert data.startswith(b"%PDF-")
    return PdfReader(io.BytesIO(data))


# --- the print version ------------------------------------------------------------------------
@pytest.mark.parametrize("lang, title, month, other", [
    ("zh", "动态预警", "2026年10月", 'id="en"'), ("en", "Early warnings", "October 2026", 'id="zh"')])
def test_print_version_is_one_language_titled_in_words(client, auth, stored, lang, title,
                                                       month, other):
    r = client.get(f"{API}/early_warning/html", params={"lang": lang}, headers=auth("mgr"))
    assert r.status_code == 200, r.text
    assert r.headers["content-disposition"] == \
        f'attachment; filename="early_warning-{AS_OF}-{lang}.html"'
    heading = re.search(r"<h1>(.*?)</h1>", r.text).group(1)
    assert heading.startswith(f"{title} · {month}")
    assert other not in r.text and "@page{size:A4 landscape" in r.text
    assert "job_loss" not in r.text and "X149" in r.text  # signals in words; every street


def test_fairness_title_names_the_model_not_the_run(client, auth, stored):
    html = client.get(f"{API}/fairness/html", params={"lang": "zh"}, headers=auth("ds")).text
    title = re.search(r"<title>(.*?)</title>", html).group(1)
    name = translators()["zh"].gettext("Fairness of the referral list")
    assert title == f"{name} · 2026年10月 · 模型 7"
    assert "run7" not in html


def test_print_version_names_the_model_that_scored_the_month(client, auth, stored):
    """This report carries no model version: the title takes the one that scored the month."""
    html = client.get(f"{API}/early_warning/html", params={"lang": "zh"},
                      headers=auth("mgr")).text
    title = translators()["zh"].gettext("Early warnings")
    assert re.search(r"<h1>(.*?)</h1>", html).group(1) == \
        f"{title} · 2026年10月 · 模型 assist-need-model 第 7 版"


# --- the PDF ----------------------------------------------------------------------------------
@needs_chromium
def test_pdf_in_chinese_is_a4_landscape_with_headers_on_every_page(client, auth, stored,
                                                                   printer):
    r = client.get(f"{API}/early_warning/pdf", params={"lang": "zh"}, headers=auth("mgr"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == \
        f'attachment; filename="early_warning-{AS_OF}-zh.pdf"'
    doc = _pdf(r.content)
    assert len(doc.pages) >= 3  # 150 streets do not fit one page
    for page in doc.pages:
        box = page.mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(A4_LANDSCAPE, abs=1)
    texts = [p.extract_text() for p in doc.pages]
    t = translators()["zh"]
    assert f"{t.gettext('Early warnings')} · 2026年10月" in texts[0]
    assert not re.search(r"Early warnings|Street|[Ss]ignal", "".join(texts))  # one language
    with_rows = [x for x in texts if "X1" in x]
    assert len(with_rows) >= 2  # the street table runs over pages ...
    assert all(t.gettext("Street") in x and t.gettext("Households flagged") in x
               for x in with_rows)  # ... its header row on each
    footer = re.sub(r"\s+", "", texts[-1].splitlines()[-1])  # spacing as the extractor reads
    assert footer.endswith(f"第{len(doc.pages)}页，共{len(doc.pages)}页")


@needs_chromium
def test_pdf_in_english(client, auth, stored, printer):
    r = client.get(f"{API}/drift/pdf", params={"lang": "en", "as_of": AS_OF},
                   headers=auth("ds"))
    assert r.status_code == 200, r.text
    text = _pdf(r.content).pages[0].extract_text()
    assert "Drift of indicators and score · October 2026" in text
    assert not re.search(r"[\u4e00-\u9fff]", text)


@needs_chromium
@pytest.mark.parametrize("name", ["early_warning", "fairness", "drift"])
def test_print_version_fits_a4_landscape(stored, printer, name):
    """Printed (print media, the page's printable width), no element is wider than the page
    and the header rows of every table repeat (``table-header-group``)."""
    from playwright.sync_api import sync_playwright

    from assist.reports.render import stored_html

    payload = json.loads((stored / f"{name}.json").read_text(encoding="utf-8"))
    html = stored_html(name, payload, langs={"zh": translators()["zh"]})
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=printing.browser(), args=list(printing.FLAGS))
        try:
            page = b.new_page(viewport={"width": int(PRINTABLE_PX), "height": 700})
            page.emulate_media(media="print")
            page.set_content(html)
            wide = page.evaluate("""w => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > w + 1)
                .map(e => e.tagName + '.' + e.className)""", PRINTABLE_PX)
            heads = page.evaluate("""() => [...document.querySelectorAll('thead')]
                .map(h => getComputedStyle(h).display)""")
        finally:
            b.close()
    assert wide == []
    assert heads and set(heads) == {"table-header-group"}


@needs_chromium
def test_folded_parts_print_as_shown_unless_marked_open(printer):
    """A ``<details>`` prints its summary only (as on screen), one marked
    ``data-print="open"`` prints its content too."""
    from markupsafe import Markup
    from playwright.sync_api import sync_playwright

    from assist.reports.render import DOCUMENT, environment

    body = Markup('<details data-print="open"><summary>a</summary><p id="opened">x</p>'
                  '</details><details><summary>b</summary><p id="folded">y</p></details>')
    html = environment().get_template(DOCUMENT).render(title="t", parts=[
        {"code": "zh", "lang": "zh-CN", "language": "中文", "title": "t", "subtitle": None,
         "sections": [{"heading": None, "body": body}], "empty": ""}])
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=printing.browser(), args=list(printing.FLAGS))
        try:
            page = b.new_page()
            page.set_content(html)
            screen = [page.locator(f"#{i}").is_visible() for i in ("opened", "folded")]
            page.emulate_media(media="print")
            paper = [page.locator(f"#{i}").is_visible() for i in ("opened", "folded")]
        finally:
            b.close()
    assert screen == [False, False] and paper == [True, False]


# --- who may print, and errors ----------------------------------------------------------------
@pytest.mark.parametrize("user, status", [("cw1", 403), (None, 401)])
@pytest.mark.parametrize("path", ["/drift/pdf", "/drift/html?lang=zh"])
def test_caseworkers_may_not_print(client, auth, stored, user, status, path):
    r = client.get(f"{API}{path}", headers=auth(user))
    assert r.status_code == status


@pytest.mark.parametrize("path, status, code, field", [
    ("/drift/pdf?lang=fr", 422, "validation_error", "query.lang"),
    ("/drift/html?lang=de", 422, "validation_error", "query.lang"),
    ("/nope/pdf?lang=zh", 404, "unknown_report", "path.name"),
    ("/nope/html?lang=zh", 404, "unknown_report", "path.name"),
    ("/coverage/pdf?lang=zh", 404, "report_not_found", None),
    ("/drift/pdf?as_of=2019-01", 404, "report_not_found", None),
])
def test_errors_are_one_line(client, auth, stored, path, status, code, field):
    r = client.get(f"{API}{path}", headers=auth("mgr"))
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert err["code"] == code and "\n" not in err["message"]
    if field:
        assert err["field"] == field


def test_without_a_printer_pdf_is_503_and_the_print_version_works(client, auth, stored,
                                                                  monkeypatch):
    monkeypatch.setattr(printing, "browser", lambda: None)
    r = client.get(f"{API}/drift/pdf", params={"lang": "zh"}, headers=auth("mgr"))
    assert r.status_code == 503
    err = r.json()["error"]
    assert err["code"] == "pdf_unavailable" and "Chromium" in err["message"]
    assert "\n" not in err["message"]
    assert client.get(f"{API}/drift/html", params={"lang": "zh"},
                      headers=auth("mgr")).status_code == 200


def test_list_gives_print_and_pdf_urls(client, auth, stored):
    items = {i["name"]: i for i in client.get(API, headers=auth("mgr")).json()["items"]}
    assert items["drift"]["pdf_urls"] == {
        lang: f"{API}/drift/pdf?as_of={AS_OF}&lang={lang}" for lang in ("zh", "en")}
    assert items["drift"]["print_urls"]["en"] == f"{API}/drift/html?as_of={AS_OF}&lang=en"


# --- the pages' download links ------------------------------------------------------------------
def test_report_pages_link_the_printed_copies(browser, stored, monkeypatch):  # noqa: F811
    mgr = browser("mgr")
    page = mgr.get("/drift").text
    for lang in ("zh", "en"):
        assert f'href="/reports/{AS_OF}/drift/print?lang={lang}"' in page
        assert f'href="/reports/{AS_OF}/drift.pdf?lang={lang}"' in page
    r = mgr.get(f"/reports/{AS_OF}/drift/print", params={"lang": "en"})
    assert r.status_code == 200 and "Drift of indicators and score · October 2026" in r.text
    assert mgr.get(f"/reports/{AS_OF}/drift/print", params={"lang": "xx"}).status_code == 422
    assert mgr.get(f"/reports/{AS_OF}/nope/print").status_code == 404
    assert browser("cw1").get(f"/reports/{AS_OF}/drift/print").status_code == 403
    monkeypatch.setattr(printing, "browser", lambda: None)
    r = mgr.get(f"/reports/{AS_OF}/drift.pdf", params={"lang": "zh"})
    assert r.status_code == 503 and "打印版" in r.text
