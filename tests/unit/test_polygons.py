"""Masks to polygons and back: exact round trips on the pixel-corner lattice."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from labelpilot.workforce.polygons import (
    from_percent,
    mask_to_polygons,
    polygons_to_mask,
    to_percent,
)


def _round_trip(mask: np.ndarray, background: int = 0) -> np.ndarray:
    polygons = mask_to_polygons(mask, background=background)
    return polygons_to_mask(polygons, *mask.shape, background=background)


def _shapes() -> np.ndarray:
    mask = np.zeros((40, 60), dtype=np.uint8)
    mask[2:10, 3:11] = 1  # square
    mask[15:35, 5:10] = 2  # L-shape: a bar ...
    mask[30:35, 10:25] = 2  # ... and its foot
    mask[2:12, 20:30] = 1  # two classes touching along an edge
    mask[2:12, 30:40] = 3
    mask[20:25, 40:45] = 1  # two squares of one class touching at a corner only
    mask[25:30, 45:50] = 1
    mask[39, 59] = 3  # a single pixel in the image corner
    return mask


def test_square_is_its_four_pixel_corners() -> None:
    mask = np.zeros((5, 6), dtype=np.uint8)
    mask[1:3, 2:5] = 4
    assert mask_to_polygons(mask) == [(4, [(2.0, 1.0), (5.0, 1.0), (5.0, 3.0), (2.0, 3.0)])]


def test_l_shape_keeps_only_corners() -> None:
    mask = np.zeros((6, 6), dtype=np.uint8)
    mask[0:5, 0:2] = 1
    mask[3:5, 2:5] = 1
    [(class_id, points)] = mask_to_polygons(mask)
    assert class_id == 1
    assert points == [(0, 0), (2, 0), (2, 3), (5, 3), (5, 5), (0, 5)]


def test_solid_shapes_round_trip_exactly() -> None:
    mask = _shapes()
    polygons = mask_to_polygons(mask)
    # square, L, two touching squares of classes 1 and 3, two corner-touching squares
    # (4-connectivity: two components), one pixel
    assert sorted(c for c, _ in polygons) == [1, 1, 1, 1, 2, 3, 3]
    np.testing.assert_array_equal(_round_trip(mask), mask)


def test_image_filled_edge_to_edge_round_trips() -> None:
    mask = np.ones((7, 9), dtype=np.uint8)
    mask[:, 4:] = 2
    assert len(mask_to_polygons(mask)) == 2
    np.testing.assert_array_equal(_round_trip(mask), mask)


def test_component_inside_another_class_comes_back() -> None:
    mask = np.zeros((12, 12), dtype=np.uint8)
    mask[1:11, 1:11] = 1
    mask[4:8, 4:8] = 2  # an island of class 2 inside class 1
    polygons = mask_to_polygons(mask)
    assert [c for c, _ in polygons] == [1, 2]  # outer first, so the island is drawn over it
    np.testing.assert_array_equal(_round_trip(mask), mask)


def test_background_hole_is_filled_with_the_surrounding_class() -> None:
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[1:7, 1:7] = 1
    mask[3:5, 3:5] = 0  # a hole: polygons carry no holes
    expected = mask.copy()
    expected[3:5, 3:5] = 1
    np.testing.assert_array_equal(_round_trip(mask), expected)


def test_diagonal_gap_is_not_a_hole_under_4_connectivity() -> None:
    mask = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]], dtype=np.uint8)
    # The centre pixel reaches the outside diagonally, so the boundary runs around it and
    # the polygon touches itself at (2, 2).
    [(_, points)] = mask_to_polygons(mask)
    assert points.count((2.0, 2.0)) == 2
    np.testing.assert_array_equal(_round_trip(mask), mask)


def test_empty_mask_gives_no_polygons() -> None:
    assert mask_to_polygons(np.zeros((4, 5), dtype=np.uint8)) == []
    assert mask_to_polygons(np.full((4, 5), 7, dtype=np.uint8), background=7) == []
    np.testing.assert_array_equal(polygons_to_mask([], 4, 5), np.zeros((4, 5), np.uint8))


def test_background_other_than_zero() -> None:
    mask = np.full((6, 6), 255, dtype=np.uint8)
    mask[1:4, 1:4] = 0
    polygons = mask_to_polygons(mask, background=255)
    assert [c for c, _ in polygons] == [0]
    np.testing.assert_array_equal(_round_trip(mask, background=255), mask)


def test_later_polygons_are_drawn_over_earlier_ones() -> None:
    square = [(0.0, 0.0), (4.0, 0.0), (4.0, 4.0), (0.0, 4.0)]
    inner = [(1.0, 1.0), (3.0, 1.0), (3.0, 3.0), (1.0, 3.0)]
    mask = polygons_to_mask([(1, square), (2, inner)], 5, 5)
    assert mask.dtype == np.uint8
    assert mask[2, 2] == 2 and mask[0, 0] == 1 and mask[4, 4] == 0
    assert polygons_to_mask([(2, inner), (1, square)], 5, 5)[2, 2] == 1


def test_free_hand_polygon_takes_pixels_whose_centres_are_inside() -> None:
    triangle = [(0.0, 0.0), (6.0, 0.0), (0.0, 6.0)]
    mask = polygons_to_mask([(1, triangle)], 6, 6)
    rows, cols = np.mgrid[0:6, 0:6]
    expected = (cols + 0.5 + rows + 0.5 <= 6).astype(np.uint8)  # centre inside or on an edge
    np.testing.assert_array_equal(mask, expected)


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="2-D"):
        mask_to_polygons(np.zeros((2, 2, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        polygons_to_mask([(300, [(0, 0), (1, 0), (1, 1)])], 2, 2)
    with pytest.raises(ValueError, match="positive"):
        to_percent([(1.0, 1.0)], 0, 10)


def test_percent_conversions_round_trip() -> None:
    points = [(0.0, 0.0), (640.0, 480.0), (12.5, 301.25), (1.0, 479.0)]
    percent = to_percent(points, 640, 480)
    assert percent[0] == (0.0, 0.0) and percent[1] == (100.0, 100.0)
    assert all(0.0 <= x <= 100.0 and 0.0 <= y <= 100.0 for x, y in percent)
    back = from_percent(percent, 640, 480)
    np.testing.assert_allclose(back, points, rtol=0, atol=1e-9)


def test_round_trip_through_percent_is_exact() -> None:
    mask = _shapes()
    height, width = mask.shape
    sent = [(c, to_percent(p, width, height)) for c, p in mask_to_polygons(mask)]
    received = [(c, from_percent(p, width, height)) for c, p in sent]
    np.testing.assert_array_equal(polygons_to_mask(received, height, width), mask)


_masks = arrays(
    np.uint8,
    st.tuples(st.integers(1, 14), st.integers(1, 14)),
    elements=st.integers(0, 3),
)


@settings(max_examples=300, deadline=None)
@given(_masks)
def test_any_mask_without_background_round_trips_exactly(mask: np.ndarray) -> None:
    # Every pixel belongs to some component: pinches, islands in islands, diagonal touches.
    np.testing.assert_array_equal(_round_trip(mask, background=9), mask)


@settings(max_examples=300, deadline=None)
@given(_masks)
def test_any_mask_round_trips_except_inside_holes(mask: np.ndarray) -> None:
    result = _round_trip(mask)
    labelled = mask != 0
    np.testing.assert_array_equal(result[labelled], mask[labelled])
    # Background that reaches the border (8-connected) is outside every polygon.
    outside, _ = ndimage.label(np.pad(~labelled, 1), structure=np.ones((3, 3)))
    reaches_border = (outside == outside[0, 0])[1:-1, 1:-1]
    assert (result[reaches_border & ~labelled] == 0).all()
