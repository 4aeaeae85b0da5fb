"""The monitoring page in a real browser (headless Chromium through selenium) after real traffic."""

from __future__ import annotations

import os
import shutil
import warnings

import pytest

from tests.builders import routed_gateway
from tests.e2e.server import GatewayServer

pytestmark = pytest.mark.e2e
SENT_OK, SENT_REFUSED = 20, 3
PASSWORD = "monitoring-pass-4711"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1500",
)


def browser_paths() -> tuple[str, str]:
    """Debian's chromium and chromium-driver; outside CI a missing browser skips loudly."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = (
        "NO BROWSER: the monitoring page browser test needs Debian's chromium and "
        "chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)"
    )
    if os.environ.get("CI"):
        pytest.fail(message)
    warnings.warn(message, stacklevel=1)
    pytest.skip(message)


@pytest.fixture
def browser(tmp_path):
    chromium, driver_path = browser_paths()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def monitored_server(tmp_path):
    server = GatewayServer(tmp_path / "var", os.environ["TEST_REDIS_URL"], workers=2)
    server.var_dir.mkdir()
    server.start()
    server.env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
    server.manage("createsuperuser", "--noinput", "--username", "ops", "--email", "ops@x.test")
    yield server
    server.stop()


def log_in(browser, base_url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(base_url + "/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("ops")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # The click returns once the form is sent; the admin index (which links the page) loads after.
    index = WebDriverWait(browser, 15).until(
        lambda driver: driver.find_elements(By.ID, "monitoring-link")
    )
    link = index[0].find_element(By.TAG_NAME, "a")
    assert link.get_attribute("href").endswith("/admin/monitoring/")


def drawn(browser) -> dict:
    """What the requests chart draws: the sum of its bars' counts per series, their heights."""
    return browser.execute_script(
        """
        const bars = [...document.querySelectorAll('#chart-requests rect.bar')];
        const counts = {};
        for (const bar of bars) {
          const series = bar.dataset.series;
          counts[series] = (counts[series] || 0) + Number(bar.dataset.count);
        }
        return {counts, heights: bars.map(b => b.getBoundingClientRect().height),
                total: document.getElementById('total-requests').textContent.trim()};
        """
    )


def test_the_monitoring_page_draws_the_requests_sent(
    monitored_server, e2e_upstream, browser, tmp_path
):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = monitored_server
    gateway = routed_gateway(
        server.post, subdomain="e2e-watched", targets=[("127.0.0.1", e2e_upstream.port)]
    )
    for _ in range(SENT_OK):
        assert server.proxy("e2e-watched", "/x", key=gateway.key).status_code == 200
    for _ in range(SENT_REFUSED):
        assert server.proxy("e2e-watched", "/x", key="wrong").status_code == 401
    log_in(browser, server.base_url)
    page = f"{server.base_url}/admin/monitoring/{gateway.id}/"

    def shows_everything_sent(driver) -> bool:  # each worker flushes its sums every second
        driver.get(page)
        return drawn(driver)["total"] == str(SENT_OK + SENT_REFUSED)

    WebDriverWait(browser, 15, poll_frequency=0.5).until(shows_everything_sent)
    chart = drawn(browser)
    assert chart["counts"] == {"2xx": SENT_OK, "4xx": SENT_REFUSED}
    assert all(height > 0 for height in chart["heights"])
    assert browser.find_element(By.ID, "total-4xx").text == str(SENT_REFUSED)
    assert browser.find_element(By.ID, "top-rules").text.count(gateway.rule["path"]) == 1
    browser.save_screenshot(str(tmp_path / "monitoring.png"))
    assert (tmp_path / "monitoring.png").stat().st_size > 10_000

    browser.get(server.base_url + "/admin/monitoring/")
    row = browser.find_element(By.CSS_SELECTOR, 'tr[data-gateway="e2e-watched"] td.requests')
    assert row.text == str(SENT_OK + SENT_REFUSED)
    browser.save_screenshot(str(tmp_path / "monitoring-overview.png"))
