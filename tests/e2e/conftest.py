"""Fixtures for the browser test: the simulators, a real `hass` process and headless Chromium.

Home Assistant and the simulators run as subprocesses on loopback, started and configured the way
`scripts/develop` starts them (scripts/devstack.py), each test with a fresh configuration.
Playwright's sync API runs in the plain test function (no event loop is running there).

The network is closed, so the browser is kept on 127.0.0.1, and Home Assistant's image proxies
(brand logos, map tiles), which would fetch from Home Assistant's CDNs, are answered 404 before
the request reaches it; only this integration's own brand images, which it serves itself, pass.
"""

import socket
from collections.abc import Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route, expect, sync_playwright

from scripts.devstack import (
    DOMAIN,
    HOST,
    ROOT,
    Simulator,
    StackError,
    check_requirements,
    home_assistant,
    prepare_config,
    simulator,
    wait_until_serving,
)

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's services.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = ROOT / "artifacts"
HA_START_TIMEOUT_S = 120.0
# Each UI step (actions and expectations): Home Assistant on two busy cores can take seconds to
# render a panel or to finish a flow step.
UI_TIMEOUT_MS = 30_000
# Paths Home Assistant proxies to its CDNs.
CDN_PROXIES = ("/api/brands/", "/api/map_tiles/")
LOG_TAIL_LINES = 60


@dataclass(frozen=True, slots=True)
class Stack:
    """A running Home Assistant and the simulators it talks to."""

    ha_url: str
    sim: Simulator
    log: Path


_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember whether the test body failed, for the fixtures' failure artifacts."""
    report = yield
    if report.when == "call":
        item.stash[_FAILED] = report.failed
    return report


def _failed(request: pytest.FixtureRequest) -> bool:
    failed: bool = request.node.stash.get(_FAILED, False)
    return failed


@pytest.fixture
def chromium() -> Path:
    """Debian's Chromium; the test fails (never skips) without it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser test needs Chromium at {CHROMIUM}: install Debian's package "
            "(apt-get install chromium). Playwright's own browser downloads are not used."
        )
    return CHROMIUM


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path, socket_enabled: None) -> Iterator[Stack]:
    """Start the simulators and `hass` on free loopback ports; stop both afterwards."""
    try:
        check_requirements()
    except StackError as err:
        pytest.fail(str(err))
    port = _free_port()
    ha_url = f"http://{HOST}:{port}"
    config_dir = tmp_path / "config"
    prepare_config(config_dir, port, rewrite_configuration=True)
    log = tmp_path / "hass.log"
    with ExitStack() as stack:
        sim_log = stack.enter_context((tmp_path / "sim.log").open("wb"))
        sim = stack.enter_context(simulator(ha_url, stderr=sim_log))
        hass = stack.enter_context(
            home_assistant(
                config_dir, dev_cloud=sim.enphase_url, output=stack.enter_context(log.open("wb"))
            )
        )
        try:
            wait_until_serving(f"{ha_url}/manifest.json", hass, HA_START_TIMEOUT_S)
        except StackError as err:
            pytest.fail(f"{err}\n{_tail(log)}")
        yield Stack(ha_url, sim, log)
        if _failed(request):
            print(f"Home Assistant's log ({log}), last {LOG_TAIL_LINES} lines:\n{_tail(log)}")


@pytest.fixture
def page(request: pytest.FixtureRequest, chromium: Path, stack: Stack) -> Iterator[Page]:
    """A fresh headless Chromium page; on failure its screenshot goes to artifacts/."""
    failure_screenshot = ARTIFACTS / "e2e-failure.png"
    failure_screenshot.unlink(missing_ok=True)  # an earlier run's would mislead
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=list(CHROMIUM_ARGS)
        )
        context = browser.new_context(locale="en-US", viewport={"width": 1366, "height": 1400})
        context.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        context.route("**/*", _keep_on_loopback)
        page = context.new_page()
        try:
            yield page
            if _failed(request):
                ARTIFACTS.mkdir(exist_ok=True)
                page.screenshot(path=failure_screenshot)
        finally:
            browser.close()


def _keep_on_loopback(route: Route) -> None:
    """Let the browser reach only 127.0.0.1, and keep Home Assistant off its CDNs."""
    url = urlsplit(route.request.url)
    if url.hostname != HOST:
        route.abort("blockedbyclient")
    elif url.path.startswith(CDN_PROXIES) and f"/{DOMAIN}/" not in url.path:
        route.fulfill(status=404)
    else:
        route.continue_()


def _free_port() -> int:
    """Ask the kernel for a loopback port free now (Home Assistant binds it moments later)."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
    return port


def _tail(log: Path) -> str:
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    return "\n".join(lines[-LOG_TAIL_LINES:])
