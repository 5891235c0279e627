"""Progress of a running step: the models' counts reach the step's reporter, which draws a
bar on a terminal and writes plain lines now and then elsewhere."""

import io

import numpy as np

from labelpilot.engine import progress
from labelpilot.worker.progress import Reporter


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_pod_log_gets_a_line_only_once_the_step_is_long_and_then_every_interval():
    log, clock = io.StringIO(), Clock()
    report = Reporter("train iteration 2", log, interval=10, clock=clock)
    for epoch, now in [(1, 3.0), (2, 9.0), (3, 11.0), (4, 15.0), (5, 21.5), (6, 22.0)]:
        clock.now = now
        report("epochs", epoch, 8)
    clock.now = 23.0
    report("epochs", 8, 8)
    assert log.getvalue().splitlines() == [
        "progress train iteration 2: 3/8 epochs (37%)",
        "progress train iteration 2: 5/8 epochs (62%)",
        "progress train iteration 2: 8/8 epochs (100%)",
    ]


def test_a_short_step_says_nothing_in_a_pod_log():
    log, clock = io.StringIO(), Clock()
    report = Reporter("infer iteration 0", log, interval=10, clock=clock)
    for done in (256, 512, 600):
        clock.now += 1
        report("objects", done, 600)
    assert log.getvalue() == ""


def test_a_terminal_gets_a_bar_redrawn_in_place():
    screen = Terminal()
    report = Reporter("infer iteration 1", screen, clock=Clock())
    report("objects", 250, 1000)
    report("objects", 1000, 1000)
    assert screen.getvalue() == (
        "\rinfer iteration 1 [######..................] 250/1,000 objects"
        "\rinfer iteration 1 [########################] 1,000/1,000 objects\n"
    )


def test_a_fit_reports_each_epoch_and_its_predictions_to_the_step_in_charge():
    from labelpilot.api.run_config import TaskType
    from labelpilot.ml import build_model

    seen: list[tuple[str, int, int]] = []
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (8, 8, 1), dtype=np.uint8) for _ in range(40)]
    model = build_model(
        TaskType.IMAGE_CLASSIFICATION,
        ["a", "b"],
        seed=0,
        options={"epochs": 3, "threads": 1, "device": "cpu"},
    )
    with progress.reporting_to(lambda *event: seen.append(event)):
        model.fit(images, np.arange(40) % 2)
        model.predict(images)
    epochs = [e for e in seen if e[0] == "epochs"]
    assert epochs == [("epochs", 1, 3), ("epochs", 2, 3), ("epochs", 3, 3)]
    assert seen[-1] == ("objects", 40, 40)
    model.predict(images)  # with nobody listening, nothing is said and nothing breaks
    assert seen[-1] == ("objects", 40, 40)
