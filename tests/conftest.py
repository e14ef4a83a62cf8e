"""Shared fixtures: a school repository skeleton in a temp folder, a server, and a browser that
refuses to talk to anything but 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from portal.catalog import Catalog, load_catalog

REPO = Path(__file__).resolve().parent.parent
pytest_plugins = ["fixture_tree"]  # the fixture school, shared by build and browser tests
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog(REPO / "catalog")


class Server:
    def __init__(self, directory: Path):
        from portal.serve import make_server

        self.httpd = make_server(directory, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[Server] = []

    def start(directory: Path) -> Server:
        servers.append(Server(directory))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="session")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is missing: `make test` installs it")
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


class OfflinePage:
    """A browser page whose every request to a host other than 127.0.0.1 is blocked and recorded."""

    def __init__(self, browser):
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.outside: list[str] = []
        self.dialogs: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("dialog", self._dialog)

    def _route(self, route) -> None:
        url = route.request.url
        parts = urlsplit(url)
        # The browser's own pages (its PDF viewer) are not the network; every network request is.
        internal = parts.scheme in ("data", "blob", "about", "chrome", "chrome-extension")
        if internal or parts.hostname == "127.0.0.1":
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def _dialog(self, dialog) -> None:  # an alert() means teacher text ran as script
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def offline_page(browser) -> Iterator[OfflinePage]:
    page = OfflinePage(browser)
    yield page
    page.context.close()
    assert page.outside == [], f"requests left 127.0.0.1: {page.outside}"
    assert page.dialogs == [], f"script from submitted text ran: {page.dialogs}"
