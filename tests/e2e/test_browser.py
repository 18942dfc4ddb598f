"""The whole path a user takes, in a real browser against a real Home Assistant.

Onboard a user, add LiveOne Enphase from Settings -> Devices & services (its own form adds the
application credentials), approve on the simulated Enphase login page, enter the API key, keep
one of the account's two systems, and see the solar, battery and grid sensors with values on
the device page. A screenshot of that page is saved to artifacts/.
"""

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from .conftest import ARTIFACTS, Stack

# Test-only account of the throwaway Home Assistant.
OWNER_NAME = "Test Owner"
OWNER_USERNAME = "owner"
OWNER_PASSWORD = "e2e-only-password"

BATTERY_SYSTEM = "Demo Battery Home"
SOLAR_ONLY_SYSTEM = "Demo Solar Home"

# The first poll comes about a minute after setup: the setup's own calls used the free plan's
# per-minute allowance, and the planner waits for it rather than be refused.
FIRST_VALUES_TIMEOUT_MS = 150_000

POWER = re.compile(r"[-\u2212]?\d[\d,]*(\.\d+)?\s?(W|kW|MW)\b")
ENERGY = re.compile(r"\d[\d,]*(\.\d+)?\s?(Wh|kWh|MWh)\b")
PERCENT = re.compile(r"\d+(\.\d+)?\s?%")
EXPECTED_VALUES = {
    "Solar power": POWER,
    "Solar energy": ENERGY,
    "Battery power": POWER,
    "State of charge": PERCENT,
    "Grid power": POWER,
    "Grid energy imported": ENERGY,
}
SCREENSHOT = ARTIFACTS / "e2e-device-page.png"


@pytest.mark.timeout(300)
def test_add_liveone_enphase_in_the_browser(page: Page, stack: Stack) -> None:
    # `page` first: it checks for Chromium before `stack` starts Home Assistant.
    _onboard(page, stack.ha_url)
    _add_integration(page, stack.sim.info)
    _check_device_page(page)


def _nav_item(page: Page, name: str) -> Locator:
    """A navigation entry: a link in newer frontends, a plain list item in 2026.3's sidebar."""
    return page.get_by_role("link", name=name).or_(page.get_by_text(name, exact=True)).first


def _onboard(page: Page, ha_url: str) -> None:
    """Create the owner and accept the defaults of the remaining onboarding steps."""
    page.goto(ha_url)
    page.get_by_role("button", name="Create my smart home").click()
    page.get_by_role("textbox", name="Name*", exact=True).fill(OWNER_NAME)
    page.get_by_role("textbox", name="Username*").fill(OWNER_USERNAME)
    page.get_by_role("textbox", name="Password*", exact=True).fill(OWNER_PASSWORD)
    page.get_by_role("textbox", name="Confirm password*").fill(OWNER_PASSWORD)
    page.get_by_role("button", name="Create account").click()
    for step in (
        page.get_by_role("heading", name="Home location"),
        page.get_by_text("We would like to know the country"),
        page.get_by_role("heading", name="Help us help you"),
    ):
        expect(step).to_be_visible()
        page.get_by_role("button", name="Next").click()
    page.get_by_role("button", name="Finish").click()
    expect(_nav_item(page, "Settings")).to_be_visible()


def _add_integration(page: Page, sim_info: dict[str, object]) -> None:
    """Add the integration through the UI, from the brand list to the created entry."""
    _nav_item(page, "Settings").click()
    _nav_item(page, "Devices & services").click()
    page.get_by_role("button", name="Add integration").click()
    # A placeholder in newer frontends, a floating label in 2026.3's.
    search = "Search for a brand name"
    page.get_by_placeholder(search).or_(page.get_by_label(search)).first.fill("LiveOne")
    page.get_by_text("LiveOne Enphase").click()

    # No credentials yet: the flow asks for them itself.
    expect(page.get_by_text("Add application credentials")).to_be_visible()
    page.get_by_role("textbox", name="Name*").fill("Simulated Enphase application")
    page.get_by_role("textbox", name="OAuth client ID*").fill(str(sim_info["client_id"]))
    page.get_by_role("textbox", name="OAuth client secret*").fill(str(sim_info["client_secret"]))
    with page.context.expect_page() as login_page:
        page.get_by_role("button", name="Add", exact=True).click()

    # Home Assistant opens the Enphase login in a window of its own; approving it lands on
    # Home Assistant's OAuth callback (as through My Home Assistant), which closes the window.
    login = login_page.value
    expect(login.get_by_role("heading", name=re.compile("access your Enlighten"))).to_be_visible()
    with login.expect_event("close"):
        login.get_by_role("button", name="Approve").click()

    expect(page.get_by_text("Enphase API key")).to_be_visible()
    page.get_by_role("textbox", name="API key*").fill(str(sim_info["api_key"]))
    page.get_by_role("button", name="Submit").click()

    expect(page.get_by_text("Choose the systems")).to_be_visible()
    battery = page.get_by_role("checkbox", name=re.compile(BATTERY_SYSTEM))
    solar_only = page.get_by_role("checkbox", name=re.compile(SOLAR_ONLY_SYSTEM))
    expect(battery).to_be_checked()
    expect(solar_only).to_be_checked()
    # The check icon covers the box itself; a person clicks the label.
    page.get_by_text(re.compile(SOLAR_ONLY_SYSTEM)).click()
    expect(solar_only).not_to_be_checked()
    page.get_by_role("button", name="Submit").click()

    # The entry is created; with a single device Home Assistant then opens its page.
    page.get_by_role("button", name="Skip and finish").click()
    page.wait_for_url("**/config/devices/device/**")
    expect(page.get_by_text(BATTERY_SYSTEM).first).to_be_visible()


def _check_device_page(page: Page) -> None:
    """Wait for the first poll's values, take the screenshot, and count the devices."""
    for name, value in EXPECTED_VALUES.items():
        row = page.locator("hui-sensor-entity-row").filter(has=page.get_by_text(name, exact=True))
        expect(row, f"{name} shows no value").to_contain_text(
            value, timeout=FIRST_VALUES_TIMEOUT_MS
        )
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=SCREENSHOT, full_page=True)

    # Only the chosen system was added.
    page.get_by_role("link", name="LiveOne Enphase").first.click()
    expect(page.get_by_role("link", name="1 device")).to_be_visible()
