"""Real Chromium for the browser tests: Debian's binary, a plain-HTTP live server, a page
that records console errors and dialogs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings as django_settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
_PLAIN_HTTP = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "LANGUAGE_COOKIE_SECURE")


@pytest.fixture(scope="session", autouse=True)
def _plain_http_live_server() -> Iterator[None]:
    """Import it into a browser test module. Session-scoped and autouse, so it runs before
    pytest-django starts the (session-wide) live server, whose SecurityMiddleware reads
    SECURE_SSL_REDIRECT once: the live server speaks plain HTTP."""
    saved = {name: getattr(django_settings, name) for name in _PLAIN_HTTP}
    for name in saved:
        setattr(django_settings, name, False)
    yield
    for name, value in saved.items():
        setattr(django_settings, name, value)


@contextmanager
def chromium_page(**context_options) -> Iterator:
    """A page in a zh-TW browser context; `page.console_errors` and `page.dialogs` collect
    what the page logs as errors and the dialogs it opens (each dismissed)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_context(locale="zh-TW", **context_options).new_page()
        page.dialogs = []
        page.console_errors = []
        page.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
        page.on("console", lambda m: m.type == "error" and page.console_errors.append(m.text))
        page.set_default_timeout(15_000)
        try:
            yield page
        finally:
            browser.close()
