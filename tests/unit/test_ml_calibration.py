"""When a classifier holds training labels out to fit its temperature."""

from labelpilot.ml.training import CALIBRATE_FROM, calibration_fraction


def test_explicit_fraction_wins():
    assert calibration_fraction(10, {"calibration_fraction": 0.2}) == 0.2
    assert calibration_fraction(5000, {"calibration_fraction": 0}) == 0.0


def test_default_only_from_enough_labels():
    assert calibration_fraction(CALIBRATE_FROM - 1, {}) == 0.0
    assert calibration_fraction(CALIBRATE_FROM, {}) == 0.1
    assert calibration_fraction(3, {}, default=0.25, from_labels=0) == 0.25
