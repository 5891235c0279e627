"""report.json as text and as a picture, on reports written by hand."""

from labelpilot.engine import report_plot, report_text


def one_iteration_report() -> dict:
    counters = {
        "totalLabeled": 900,
        "humanLabeled": 300,
        "machineLabeled": 600,
        "failedNonRetryableError": 2,
        "unlabeled": 98,
    }
    return {
        "jobName": "birds",
        "taskType": "image-classification",
        "target": 0.95,
        "confidenceLevel": 0.95,
        "objects": 1000,
        "labelCounters": counters,
        "stopReason": "MaxPercentageLabeled",
        "humanLabelsSaved": {"humanAnswers": 300, "allByHandAnswers": 998, "vsAllByHand": 698},
        "perClass": {
            "Canary": {
                "machine": 400,
                "human": 100,
                "validationAccepted": 50,
                "validationAccuracy": 0.98,
                "accuracyLowerBound": 0.91,
            },
            "Woodpecker": {"machine": 200, "human": 200, "validationAccepted": 0},
        },
        "iterations": [
            {
                "iteration": 0,
                "human": {"objects": 300, "seconds": 40.0},
                "training": {"seconds": 100.0},
                "threshold": {
                    "labelCounters": counters,
                    "accuracyBound": 0.9512,
                    "machineLabeled": 600,
                    "seconds": 1.5,
                    "groundTruthRule": {"accepted": 650, "estimate": 0.953},
                },
            }
        ],
        "timings": {"human": 40.0, "training": 100.0, "threshold": 1.5},
    }


def test_the_summary_says_what_was_saved_per_class_and_against_the_rule():
    text = report_text.summary(one_iteration_report())
    assert "machine 600 (60.0%), human 300 (30.0%), failed 2, unlabeled 98" in text
    assert "accuracy >= 0.9512 with confidence 0.95 (target 0.95)" in text
    assert "human answers: 300 of 998 by hand, 698 saved" in text
    assert "iteration 0: machine-labeled 600; Ground Truth's rule on the same scores: 650" in text
    assert "Canary: machine 400, human 100, validation 0.980 of 50 (>= 0.910)" in text
    assert "Woodpecker: machine 200, human 200\n" in text


def test_a_one_iteration_job_is_drawn_on_whole_iterations():
    fig = report_plot.figure(one_iteration_report())
    iteration_axes = [ax for ax in fig.axes if ax.get_xlabel() == "iteration"]
    assert len(iteration_axes) == 3
    for ax in iteration_axes:
        assert list(ax.get_xticks()) == [0]
    classes = fig.axes[3]
    assert [t.get_text() for t in classes.get_yticklabels()] == ["Canary", "Woodpecker"]


def test_the_summary_counts_the_fresh_validation_samples_among_the_human_labels():
    report = one_iteration_report()
    assert "fresh validation" not in report_text.summary(report)
    report["freshValidation"] = {"objects": 0, "humanLabeled": 0}
    assert "fresh validation" not in report_text.summary(report)
    report["freshValidation"] = {"objects": 1200, "humanLabeled": 1190}
    assert (
        "fresh validation samples: 1,200 objects sent to people, 1,190 labeled "
        "(among the human labels)" in report_text.summary(report)
    )
