"""The web console end to end in headless Chromium (Debian's chromium + chromium-driver, via Selenium)."""

from __future__ import annotations

import os
import shutil
import tempfile

import httpx
import pytest

from fixtures_serve.procs import DEMO_CASE, TOKENS, ServerProcess, auth, wait_until

CHROMIUM = shutil.which("chromium")
DRIVER = shutil.which("chromedriver")


def _missing() -> str | None:
    if not CHROMIUM or not DRIVER:
        return "Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=_missing() or "")


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="lumos-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_console_lists_incident_shows_evidence_and_approves(tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    server = ServerProcess(tmp_path / "home", env={"LUMOS_DATA_CASE": str(DEMO_CASE)})
    try:
        server.start()
        body = {"version": "1", "alerts": [{"name": "HTTP5xxRatioHigh", "service": "frontend", "severity": "critical",
                                            "summary": "<b>5xx</b> on frontend", "fingerprint": "c1"}]}
        incident = httpx.post(server.url + "/webhooks/generic", json=body, headers=auth("alertmanager"), timeout=10).json()["results"][0]["incident_id"]
        wait_until(lambda: httpx.get(f"{server.url}/incidents/{incident}", headers=auth("victor"), timeout=10)
                   .json()["incident"]["run_state"] == "waiting", 60, what="the incident to reach its gate")

        wait = WebDriverWait(browser, 20)
        browser.get(server.url + "/")
        browser.find_element(By.ID, "token").send_keys(TOKENS["alice"])
        browser.find_element(By.ID, "save-token").click()
        row = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, f"tr[data-id='{incident}']"))
        assert "<b>5xx</b> on frontend" in row.text, "alert text is shown as text, never as markup"
        row.click()
        wait.until(lambda d: d.find_element(By.ID, "approval").is_displayed())
        assert "confidence" in browser.find_element(By.ID, "hypotheses").text
        assert browser.find_elements(By.CSS_SELECTOR, "#evidence li")
        assert len(browser.find_elements(By.CSS_SELECTOR, "#deps-graph rect")) >= 3, "dependency picture drawn as inline SVG"
        assert "graph LR" in browser.find_element(By.ID, "deps").text
        assert "incident.opened" in browser.find_element(By.ID, "timeline").text
        browser.save_screenshot(str(tmp_path / "console.png"))
        if os.environ.get("SERVE_SCREENSHOT"):
            shutil.copy(tmp_path / "console.png", os.environ["SERVE_SCREENSHOT"])
        browser.find_element(By.ID, "approval-comment").send_keys("checked the dashboards")
        browser.find_element(By.ID, "approve").click()
        wait.until(lambda d: "approved by alice" in d.find_element(By.ID, "approval-result").text)
        done = wait_until(lambda: (d := httpx.get(f"{server.url}/incidents/{incident}", headers=auth("victor"), timeout=10).json())
                          ["incident"]["run_state"] == "done" and d, 60, what="the approved incident to finish")
        assert done["approvals"][0]["approver"] == "alice" and done["approvals"][0]["comment"] == "checked the dashboards"
        wait.until(lambda d: "✓" in d.find_element(By.ID, "plan").text)
    finally:
        server.stop()
