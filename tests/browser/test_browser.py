"""The HTML report and the web app in a real browser: headless Chromium (Debian's ``chromium`` and
``chromium-driver``, which ``make test`` installs) driven by Selenium.

- the report page: the narrative reads, a sentence's evidence link lands on its EEG page;
- the web app: upload a recording, wait for it, open the report, follow an evidence link to the EEG
  viewer and see its page drawn; a wrong file type is refused in the page and the server keeps serving.

With ``NEURONARRATOR_SCREENSHOT_DIR`` set, each page is also saved there as a PNG, from the *bundled*
model (``docs/make_screenshots.sh`` does this for the screenshots in ``docs/``); otherwise a tiny model
trained by the test session is used.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = [
    pytest.mark.usefixtures("one_torch_thread"),
    pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                       reason="Debian's chromium and chromium-driver are not installed (make test installs them)"),
]  # fmt: skip
SHOTS = os.environ.get("NEURONARRATOR_SCREENSHOT_DIR")


@pytest.fixture(scope="module")
def model_dir(request):
    return None if SHOTS else request.getfixturevalue("tiny_model_dir")  # SHOTS: the bundled model


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    from neuronarrator.clinical.phantom.files import write_phantom

    root = tmp_path_factory.mktemp("browser-rec")
    path, _ = write_phantom(root / "left_temporal.edf", "focal_slowing:left:temporal,focal_epileptiform:left:temporal",
                            seed=3, duration_s=60)  # fmt: skip
    return path


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,1600"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _shot(driver, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(Path(SHOTS) / f"{name}.png"))


def _wait(predicate, timeout_s: float = 120.0, what: str = "condition"):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_report_page_reads_and_links_to_evidence(browser, model_dir, recording, tmp_path):
    from selenium.webdriver.common.by import By

    from neuronarrator.cli import main

    assert main(["report", str(recording), "--out", str(tmp_path)]
                + ([] if model_dir is None else ["--model", str(model_dir)])) == 0  # fmt: skip
    browser.get((tmp_path / "left_temporal.report.html").as_uri())
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Description of the record" in text and "Findings" in text
    assert "Draft for review by a qualified clinician" in text
    _shot(browser, "report")
    links = browser.find_elements(By.CSS_SELECTOR, "a.ev")
    assert links, "no narrative sentence links to evidence"
    target = links[0].get_attribute("href").split("#")[1]
    links[0].click()
    assert browser.execute_script("return location.hash") == "#" + target
    figure = browser.find_element(By.ID, target)
    assert figure.is_displayed() and figure.find_elements(By.TAG_NAME, "img")
    assert browser.execute_script("return arguments[0].querySelector('img').naturalWidth", figure) > 0


@pytest.fixture(scope="module")
def server(model_dir, tmp_path_factory):
    import uvicorn

    from neuronarrator.serve import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(model_dir, work_dir=tmp_path_factory.mktemp("serve"))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    _wait(lambda: srv.started, 60, "the server to start")
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(30)


def test_web_app_upload_report_and_viewer(browser, server, recording, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    _shot(browser, "upload")
    bad = tmp_path / "notes.txt"
    bad.write_text("not an EEG")
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(bad))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    status = browser.find_element(By.ID, "status")
    message = _wait(lambda: status.text if status.text.startswith(("Refused", "Error")) else None, 30, "refusal")
    assert "txt" in message.lower() or "type" in message.lower()

    browser.get(server + "/")
    browser.find_element(By.CSS_SELECTOR, "input[type=file]").send_keys(str(recording))
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    status = browser.find_element(By.ID, "status")
    link = _wait(lambda: status.find_elements(By.TAG_NAME, "a"), 300, "the report link")[0]
    link.click()
    _wait(lambda: "Description of the record" in browser.find_element(By.TAG_NAME, "body").text, 60, "the report")
    _shot(browser, "app-report")
    viewer = browser.find_elements(By.CSS_SELECTOR, "a.viewer")
    assert viewer, "no evidence figure links to the EEG viewer"
    viewer[0].click()
    _wait(lambda: "/viewer" in browser.current_url, 30, "the viewer")
    image = _wait(lambda: browser.find_elements(By.CSS_SELECTOR, "img"), 30, "the EEG page")[0]
    _wait(lambda: browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image),
          60, "the EEG page image")  # fmt: skip
    _shot(browser, "viewer")
    assert browser.execute_script("return arguments[0].naturalWidth", image) > 0
