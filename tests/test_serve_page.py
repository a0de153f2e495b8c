"""The server's page in a real headless browser (Debian's chromium and chromedriver, driven by selenium).

``.ci/run`` installs the browser; elsewhere the test is skipped when it is missing. With
``TEXTRNN_SCREENSHOTS=DIR`` it also saves the two panels as the documentation's screenshots.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from serving import serving

from textrnn import load_classifier, load_generator
from textrnn.serve.app import build_app

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and DRIVER) and not os.environ.get("CI"):
    pytest.skip("Debian's chromium and chromium-driver are not installed", allow_module_level=True)

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=900,760",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(DRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def screenshot(driver, name: str) -> None:
    folder = os.environ.get("TEXTRNN_SCREENSHOTS")
    if folder:
        driver.save_screenshot(str(Path(folder) / f"{name}.png"))


def fill(driver, element_id: str, value: str) -> None:
    element = driver.find_element(By.ID, element_id)
    element.clear()
    element.send_keys(value)


def test_the_page_classifies_a_typed_text(browser):
    text = "a gripping, beautifully acted film"
    expected = load_classifier("sst2-bilstm", device="cpu").predict([text])[0]
    with serving(build_app("sst2-bilstm")) as port:
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda d: d.find_element(By.ID, "classify-panel").is_displayed())
        fill(browser, "text", text)
        browser.find_element(By.ID, "classify").click()
        label = wait.until(lambda d: d.find_element(By.ID, "label").text)
        values = [e.text for e in browser.find_elements(By.CLASS_NAME, "bar-value")]
        screenshot(browser, "serve_classify")
        assert not browser.find_element(By.ID, "generate-panel").is_displayed()
        browser.get(f"http://127.0.0.1:{port}/docs")  # Swagger UI, rendered with nothing from the network
        paths = wait.until(lambda d: [e.text for e in d.find_elements(By.CLASS_NAME, "opblock-summary-path")])
    assert "/v1/classify" in paths and "/health" in paths
    assert label == f"{expected.label} ({expected.probability:.3f})"
    assert len(values) == 2 and max(map(float, values)) == pytest.approx(expected.probability, abs=1e-3)


COUNT_UPDATES = """
window.updates = 0;
new MutationObserver((changes) => { window.updates += changes.length; })
  .observe(document.getElementById("output"), { subtree: true, characterData: true, childList: true });
"""


def test_the_page_streams_a_generated_text(browser):
    with serving(build_app("shakespeare-char")) as port:
        browser.get(f"http://127.0.0.1:{port}/")
        wait = WebDriverWait(browser, 20)
        wait.until(lambda d: d.find_element(By.ID, "generate-panel").is_displayed())
        for element_id, value in (
            ("prompt", "ROMEO:"),
            ("length", "400"),
            ("temperature", "0.7"),
            ("top-p", "0.9"),
            ("seed", "7"),
        ):
            fill(browser, element_id, value)
        browser.execute_script(COUNT_UPDATES)
        browser.find_element(By.ID, "generate").click()
        wait.until(lambda d: d.execute_script("return window.updates") > 0)
        wait.until(lambda d: d.find_element(By.ID, "generate").is_enabled())  # the stream has ended
        shown = browser.find_element(By.ID, "output").text
        updates = browser.execute_script("return window.updates")
        screenshot(browser, "serve_generate")
    expected = load_generator("shakespeare-char", device="cpu").generate(
        "ROMEO:", 400, temperature=0.7, top_p=0.9, seed=7
    )[0]
    assert shown.rstrip() == ("ROMEO:" + expected).rstrip()
    assert updates > 10  # the text grew piece by piece as it streamed in, not all at once
