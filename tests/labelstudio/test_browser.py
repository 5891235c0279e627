"""A person in Label Studio's own UI: headless Chromium (Debian's `chromium`, driven by
Selenium) logs in through the login page, opens the one task of a LabelPilot batch, sees
the image and the digit choices (a screenshot is kept under test-artifacts/), clicks the
object's true class, submits, and LabelPilot's `human` step collects that answer.

Every wait is explicit (WebDriverWait on what a person would wait for); on failure the
page's screenshot and source are kept under test-artifacts/ as well.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from labelpilot.api.run_config import RunConfig, TaskType
from labelpilot.datasets.prepare import prepare
from labelpilot.engine import storage
from labelpilot.engine.formats import GroundTruth, read_manifest
from labelpilot.engine.workspace import Workspace
from labelpilot.worker.cli import run_step
from tests.labelstudio.server import ADMIN, PASSWORD, ROOT, LabelStudio

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = ROOT / "test-artifacts"
WAIT_SECONDS = 60  # generous: a loaded machine renders the editor slowly
POLL = 0.2

# Label Studio 1.23's editor: the object tag `image` and the `label` choices
# (operator/labelpilot/workforce/labelstudio/interface.py).
TASK_IMAGE = (By.CSS_SELECTOR, '.lsf-main-content img[alt="image"], img[alt="image"]')
CHOICE_INPUTS = (By.CSS_SELECTOR, ".lsf-choices input.ant-radio-input")
SUBMIT = (By.CSS_SELECTOR, 'button[data-testid="bottombar-submit-button"]')
# Onboarding / "what's new" / tour pop-ups a fresh user may get: only buttons inside a
# dialog are ever clicked, so the editor's own panels are never touched.
DIALOGS = (
    '[role="dialog"], .ant-modal-wrap, .lsf-modal, .ls-modal, .react-joyride__tooltip,'
    ' [data-test-id="tour"], [class*="whats-new"], [class*="WhatsNew"]'
)
DISMISS_WORDS = (
    "skip",
    "close",
    "got it",
    "dismiss",
    "maybe later",
    "not now",
    "no thanks",
    "ok",
    "done",
    "continue",
)


@pytest.fixture(autouse=True)
def token(label_studio: LabelStudio, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LABEL_STUDIO_API_TOKEN", label_studio.token)


@pytest.fixture()
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def evidence(driver: WebDriver, name: str) -> Iterator[None]:
    """On any failure inside, keep the page's screenshot and source for debugging."""
    try:
        yield
    except BaseException:
        ARTIFACTS.mkdir(exist_ok=True)
        with contextlib.suppress(WebDriverException, OSError):
            driver.save_screenshot(str(ARTIFACTS / f"{name}-failure.png"))
        with contextlib.suppress(WebDriverException, OSError):
            (ARTIFACTS / f"{name}-failure.html").write_text(driver.page_source)
        with contextlib.suppress(WebDriverException, OSError):
            (ARTIFACTS / f"{name}-failure.url").write_text(driver.current_url + "\n")
        raise


def wait(driver: WebDriver, seconds: float = WAIT_SECONDS) -> WebDriverWait:
    return WebDriverWait(
        driver,
        seconds,
        poll_frequency=POLL,
        ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
    )


def dismiss_popups(driver: WebDriver) -> None:
    """Closes whatever onboarding dialog is showing; a no-op when there is none."""
    for dialog in driver.find_elements(By.CSS_SELECTOR, DIALOGS):
        with contextlib.suppress(WebDriverException):
            if not dialog.is_displayed():
                continue
            closers = dialog.find_elements(
                By.CSS_SELECTOR,
                '.ant-modal-close, [aria-label="Close"], [aria-label="close"],'
                ' [aria-label="Skip"], button[title="Close"]',
            )
            closers += [
                b
                for b in dialog.find_elements(By.TAG_NAME, "button")
                if b.text.strip().lower() in DISMISS_WORDS
            ]
            for closer in closers:
                if closer.is_displayed() and closer.is_enabled():
                    closer.click()
                    break


def log_in(driver: WebDriver, url: str) -> None:
    driver.get(f"{url}/user/login/")
    email = wait(driver).until(ec.visibility_of_element_located((By.NAME, "email")))
    email.clear()
    email.send_keys(ADMIN)
    password = driver.find_element(By.NAME, "password")
    password.clear()
    password.send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, '#login-form button[type="submit"]').click()
    wait(driver).until(lambda d: "/user/login" not in d.current_url)
    # logged in: Label Studio's session cookie is set
    assert driver.get_cookie("sessionid"), "no session after logging in"


def loaded_image(driver: WebDriver) -> WebElement | bool:
    dismiss_popups(driver)
    for image in driver.find_elements(*TASK_IMAGE):
        if driver.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        ):
            return image
    return False


def choices_shown(labels: list[str]) -> Callable[[WebDriver], list[WebElement] | bool]:
    def shown(driver: WebDriver) -> list[WebElement] | bool:
        dismiss_popups(driver)
        inputs = driver.find_elements(*CHOICE_INPUTS)
        names = [i.get_attribute("name") for i in inputs]
        return inputs if names == labels else False

    return shown


def selected(driver: WebDriver) -> list[str | None]:
    return [
        i.get_attribute("name") for i in driver.find_elements(*CHOICE_INPUTS) if i.is_selected()
    ]


def click(element: WebElement) -> bool:
    """Clicks once the element can take it (a WebDriverWait condition: a stale element,
    re-rendered by the editor, is looked up again on the next poll)."""
    if not (element.is_displayed() and element.is_enabled()):
        return False
    element.click()
    return True


def choice_label(driver: WebDriver, value: str) -> WebElement:
    """The clickable label of one choice (what a person clicks: the radio and its text)."""
    return driver.find_element(
        By.XPATH,
        "//div[contains(concat(' ', normalize-space(@class), ' '), ' lsf-choices ')]"
        f"//label[.//input[@type='radio' and @name='{value}']]",
    )


def test_a_person_answers_in_label_studio_and_labelpilot_collects_it(
    label_studio, tmp_path, browser
):
    data = prepare("digits", tmp_path / "data", limit=30, seed=4)
    labels = list(data["labels"])
    title = f"lp-browser-{uuid.uuid4().hex[:10]}"
    config = RunConfig.model_validate(
        {
            "job_name": "ls-browser",
            "task_type": data["taskType"],
            "label_attribute_name": data["labelAttributeName"],
            "labels": labels,
            "input_manifest_uri": data["inputManifest"],
            "output_uri": str(tmp_path / "out"),
            "workforce": {"label_studio": {"url": label_studio.url, "project_title": title}},
            "allow_small_dataset": True,
            "auto_labeling": False,
            # a batch of one object: the one this person answers
            "max_concurrent_task_count": 1,
        }
    )
    run_step("prepare", config)
    waiting = run_step("human", config, 0, max_wait=0)
    assert waiting.status == "Waiting" and waiting.human_batch == 1

    handle = storage.read_json(Workspace(config.output_uri).human_request(0))["handle"]
    assert len(handle["tasks"]) == 1
    ((index, task_id),) = ((int(i), int(t)) for i, t in handle["tasks"].items())
    project_id = int(handle["projectId"])
    names = {o.index: o.key or "" for o in read_manifest(config.input_manifest_uri)}
    truth = GroundTruth(
        data["groundTruthManifest"], TaskType.IMAGE_CLASSIFICATION, data["labelAttributeName"]
    )
    true_class = int(truth.get(names[index]))
    answer = labels[true_class]

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "labelstudio-task.png"
    shot.unlink(missing_ok=True)
    with evidence(browser, "labelstudio-task"):
        log_in(browser, label_studio.url)
        browser.get(f"{label_studio.url}/projects/{project_id}/data?task={task_id}")
        image = wait(browser).until(loaded_image)
        width = browser.execute_script("return arguments[0].naturalWidth", image)
        assert width == handle["sizes"][str(index)][0], "the editor shows another image"
        wait(browser).until(choices_shown(labels))
        wait(browser).until(ec.element_to_be_clickable(SUBMIT))
        dismiss_popups(browser)
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 0

        # the editor re-renders the choices on every change: find them afresh each time
        wait(browser).until(lambda d: click(choice_label(d, answer)))
        wait(browser).until(lambda d: selected(d) == [answer])
        wait(browser).until(lambda d: click(d.find_element(*SUBMIT)))
        # the editor saved it: the task has the person's annotation on the server
        wait(browser).until(
            lambda d: [
                a
                for a in label_studio.call("GET", f"/api/tasks/{task_id}/annotations/")
                if not a.get("was_cancelled")
            ]
        )

    done = run_step("human", config, 0, max_wait=30)
    assert done.status == "Succeeded", done
    assert done.failed == 0 and done.human_batch == 1
    rows = storage.read_jsonl(Workspace(config.output_uri).human_response(0))
    assert [(row["index"], row["label"]) for row in rows] == [(index, true_class)]
    annotations = label_studio.call("GET", f"/api/tasks/{task_id}/annotations/")
    assert len(annotations) == 1  # one click, one annotation: the editor's, not a script's
    (result,) = annotations[0]["result"]
    assert (result["from_name"], result["to_name"], result["type"]) == ("label", "image", "choices")
    assert result["value"]["choices"] == [answer]
