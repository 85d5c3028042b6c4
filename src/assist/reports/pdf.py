"""Printed reports: the print version of a stored report (:mod:`assist.reports.render`, one
language, print CSS for A4 landscape) turned into a PDF by Chromium.

Chromium is the system's (Debian ``chromium``), driven through Playwright (the ``pdf`` extra;
Playwright never downloads a browser here). The document has no script and no link out: the
page is loaded with JavaScript off and every request other than the document itself refused,
so printing reads nothing but the HTML it is given. When Playwright or a Chromium binary is
missing, :func:`unavailable` says so in one line and :func:`html_to_pdf` raises
:class:`PdfUnavailable` with that line; the HTML print version works without either.
"""

from __future__ import annotations

import shutil
import threading

from markupsafe import escape

from assist.reports.i18n import N_, Translator

#: Chromium binaries looked for on ``PATH``, in order
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: flags of a headless Chromium in a server (no GPU, no background traffic)
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking")
#: the footer's page numbers (``{page}``, ``{pages}``: filled in by Chromium)
PAGE_WORDS = N_("Page {page} of {pages}")
#: the longest a document may take to print (ms)
TIMEOUT_MS = 60_000
#: Chromiums printing at once in one process (each takes a few hundred MB and 5-9 s); a print
#: that waits longer than ``WAIT_S`` for one is refused as busy (503), never queued unbounded
PRINTERS = threading.BoundedSemaphore(2)
WAIT_S = 30.0
_FONTS = ("'Noto Sans CJK SC','Source Han Sans SC','WenQuanYi Micro Hei','PingFang SC',"
          "'Microsoft YaHei',sans-serif")


class PdfUnavailable(RuntimeError):
    """No PDF can be printed here (no Playwright, no Chromium, or Chromium failed): one line."""


def browser() -> str | None:
    """The path of a Chromium binary on ``PATH``, or None."""
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def unavailable() -> str | None:
    """Why no PDF can be printed here, in one line; None when Playwright and Chromium are
    both installed."""
    try:
        import playwright.sync_api  # noqa: F401 - only whether it imports
    except ImportError:
        return "PDF printing needs Playwright: pip install 'assist[pdf]'"
    if browser() is None:
        return "PDF printing needs Chromium: apt-get install chromium"
    return None


def footer(title: str, t: Translator) -> str:
    """Chromium's footer template: the title on the left, "page n of m" in the language of
    ``t`` on the right."""
    numbers = str(escape(t.gettext(PAGE_WORDS))).format(page='<span class="pageNumber"></span>',
                                             pages='<span class="totalPages"></span>')
    return (f'<div style="font-size:8px;font-family:{_FONTS};color:#52606d;width:100%;'
            f'margin:0 10mm;display:flex;justify-content:space-between;gap:8mm">'
            f"<span>{escape(title)}</span><span>{numbers}</span></div>")


def html_to_pdf(html: str, *, footer_html: str = "<span></span>") -> bytes:
    """The PDF of the self-contained document ``html`` (A4 landscape unless its CSS says
    otherwise), with ``footer_html`` at the bottom of every page. Raises
    :class:`PdfUnavailable` (one line) when it cannot be printed."""
    reason = unavailable()
    if reason:
        raise PdfUnavailable(reason)
    from playwright.sync_api import Error, sync_playwright

    if not PRINTERS.acquire(timeout=WAIT_S):
        raise PdfUnavailable("the printer is busy with other reports: try again in a minute")
    try:
        return _print(html, footer_html, sync_playwright, Error)
    finally:
        PRINTERS.release()


def _print(html: str, footer_html: str, sync_playwright, error: type) -> bytes:  # noqa: ANN001
    """One Chromium printing ``html`` (see :func:`html_to_pdf`)."""
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=browser(), args=list(FLAGS))
            try:
                context = chromium.new_context(java_script_enabled=False, offline=True)
                page = context.new_page()
                page.route("**/*", lambda route: route.abort())
                page.set_content(html, wait_until="load", timeout=TIMEOUT_MS)
                return page.pdf(format="A4", landscape=True, print_background=True,
                                prefer_css_page_size=True, display_header_footer=True,
                                header_template="<span></span>", footer_template=footer_html,
                                margin={"top": "10mm", "bottom": "14mm", "left": "10mm",
                                        "right": "10mm"})
            finally:
                chromium.close()
    except error as exc:
        first = (str(exc).strip().splitlines() or ["unknown error"])[0]
        raise PdfUnavailable(f"Chromium could not print the report: {first}") from None

