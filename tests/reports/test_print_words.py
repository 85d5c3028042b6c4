"""The printed copy's words: the month and the model version in words in each language, one
language per printed copy (both in the stored file), the PDF footer (escaped title, Chromium's
page-number fields) and the one-line reason when no PDF can be printed."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest

from assist.reports import pdf as printing
from assist.reports.cases import early_warning_report
from assist.reports.i18n import translators
from assist.reports.render import model_words, month_words, stored_html

T = translators()


@pytest.mark.parametrize("lang, month, words", [
    ("zh", "2026-10", "2026年10月"), ("en", "2026-10", "October 2026"),
    ("zh", "2027-01", "2027年1月"), ("en", "model-1", None), ("zh", None, None)])
def test_month_in_words(lang, month, words):
    assert month_words(month, T[lang]) == words


@pytest.mark.parametrize("lang, version, words", [
    ("zh", "assist-need-model/3", "模型 assist-need-model 第 3 版"),
    ("en", "assist-need-model/3", "model assist-need-model, version 3"),
    ("zh", "7", "模型 7"), ("en", "file:/tmp/m", "model file:/tmp/m"), ("en", None, None)])
def test_model_version_in_words(lang, version, words):
    assert model_words(version, T[lang]) == words


def _report() -> dict:
    frame = pd.DataFrame({"street_code": ["S01", "S02"], "flags": ["job_loss", "income_drop"]})
    return early_warning_report(frame, as_of="2026-10", model_version="assist-need-model/2")


def test_a_printed_copy_holds_one_language_the_stored_file_both():
    one = stored_html("early_warning", _report(), langs={"en": T["en"]})
    assert 'id="en"' in one and 'id="zh"' not in one and '<html lang="en">' in one
    assert "<title>Early warnings · October 2026 · model assist-need-model, version 2</title>" \
        in one
    both = stored_html("early_warning", _report())
    assert both.index('id="zh"') < both.index('id="en"')
    title = T["zh"].gettext("Early warnings")
    assert f"<title>{title} · 2026年10月 · 模型 assist-need-model 第 2 版</title>" in both


def test_footer_escapes_the_title_and_numbers_the_pages():
    html = printing.footer("A <b> & B", T["zh"])
    assert "A &lt;b&gt; &amp; B" in html and "<b>" not in html
    assert '第 <span class="pageNumber"></span> 页，共 <span class="totalPages"></span> 页' in html
    styles = []

    class Styles(HTMLParser):
        def handle_starttag(self, tag, attrs):
            styles.extend(v for k, v in attrs if k == "style")

    Styles().feed(html)  # the whole style is one attribute (font names in single quotes)
    assert "WenQuanYi Micro Hei" in styles[0] and "justify-content:space-between" in styles[0]


def test_no_printer_is_one_line(monkeypatch):
    monkeypatch.setattr(printing, "browser", lambda: None)
    reason = printing.unavailable()
    assert reason and "Chromium" in reason and "\n" not in reason
    with pytest.raises(printing.PdfUnavailable, match="Chromium"):
        printing.html_to_pdf("<p>x</p>")


def test_a_busy_printer_refuses_in_one_line_and_frees_its_places(monkeypatch):
    """Every Chromium place taken: a print waits ``WAIT_S`` then is refused as busy (the API's
    503), never queued without bound; the places it waited for stay free afterwards."""
    if printing.unavailable():
        pytest.skip(printing.unavailable())
    monkeypatch.setattr(printing, "PRINTERS", printing.threading.BoundedSemaphore(1))
    monkeypatch.setattr(printing, "WAIT_S", 0.05)
    printing.PRINTERS.acquire()
    try:
        with pytest.raises(printing.PdfUnavailable, match="busy"):
            printing.html_to_pdf("<p>x</p>")
    finally:
        printing.PRINTERS.release()
    assert printing.PRINTERS.acquire(timeout=0)   # nothing was left held
    printing.PRINTERS.release()
