"""Class masks to polygons and back, for Label Studio's PolygonLabels.

Coordinates are (x, y) in pixels on the pixel-corner lattice: pixel (col, row) is the unit
square from (col, row) to (col + 1, row + 1). Label Studio stores points in percent of the
image width and height (0-100); ``to_percent`` / ``from_percent`` convert.

``mask_to_polygons``: each 4-connected component of each class other than background
becomes one polygon, its outer boundary traced along the cracks between pixels
(crack-code boundary following): start on the top edge of the component's first pixel in
raster order and walk with the component on the right, turning right where the pixel ahead
on the right is outside it, left where the pixel ahead on the left is inside it, straight
otherwise; that rule keeps diagonal neighbours apart (4-connectivity for the component,
8-connectivity for what is outside it). Only corners are kept, so no point is collinear
with its neighbours. A polygon may touch itself at a vertex where the component touches
itself diagonally. Holes are not represented: a polygon covers its component and every
hole in it. Polygons come largest area first, so a component inside another's hole is
drawn after it and comes back; a background hole comes back filled with the class around.

``polygons_to_mask``: a pixel takes a polygon's class when its centre lies inside the
polygon or on its edge (later polygons over earlier ones). Pillow truncates coordinates to
integers and fills closed polygons on the integer lattice, so the polygons are drawn at
twice the size, with coordinates rounded to the half-integer grid, and each pixel's centre
(2 col + 1, 2 row + 1) is sampled: exact for traced polygons (their edges lie on even
coordinates), within a quarter pixel for free-hand ones.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
from scipy import ndimage

Point = tuple[float, float]
Polygon = tuple[int, list[Point]]

# Directions in image coordinates (y down), clockwise: east, south, west, north.
_STEP = ((1, 0), (0, 1), (-1, 0), (0, -1))
# Offsets (col, row) from a vertex to the pixel ahead on the right / on the left, per direction.
_AHEAD_RIGHT = ((0, 0), (-1, 0), (-1, -1), (0, -1))
_AHEAD_LEFT = ((0, -1), (0, 0), (-1, 0), (-1, -1))


def _trace(inside: np.ndarray, col: int, row: int) -> list[Point]:
    """Outer boundary of the 4-connected component whose first pixel (raster order) is
    (col, row); ``inside`` is the component's mask padded by one pixel on every side."""
    x, y, heading = col, row, 0  # along the first pixel's top edge, the pixel on the right
    corners: list[Point] = [(float(x), float(y))]
    while True:
        x += _STEP[heading][0]
        y += _STEP[heading][1]
        rc, rr = _AHEAD_RIGHT[heading]
        lc, lr = _AHEAD_LEFT[heading]
        if not inside[y + rr + 1, x + rc + 1]:
            turn = (heading + 1) % 4
        elif inside[y + lr + 1, x + lc + 1]:
            turn = (heading - 1) % 4
        else:
            turn = heading
        if (x, y) == (col, row):  # the start is a corner visited once: the loop is closed
            return corners
        if turn != heading:
            corners.append((float(x), float(y)))
        heading = turn


def _area(points: Sequence[Point]) -> float:
    """Area enclosed by a polygon (shoelace formula)."""
    xs = np.asarray([p[0] for p in points])
    ys = np.asarray([p[1] for p in points])
    return float(abs(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))) / 2.0)


def mask_to_polygons(mask: np.ndarray, background: int = 0) -> list[Polygon]:
    """``(class_id, [(x, y), ...])`` for every 4-connected component of every class other
    than ``background``: its outer boundary on the pixel-corner lattice, corners only,
    clockwise on screen (y down). Largest enclosed area first (then class, then position),
    so drawing them in order with ``polygons_to_mask`` gives the mask back, except that
    background holes inside a component come back filled with its class."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    found: list[tuple[float, int, int, int, list[Point]]] = []
    for class_id in np.unique(mask):
        if class_id == background:
            continue
        labels, _ = ndimage.label(mask == class_id)  # default structure: 4-connected
        padded = np.pad(labels, 1)
        for index, box in enumerate(ndimage.find_objects(labels), start=1):
            if box is None:
                continue
            top = box[0].start
            col = int(np.flatnonzero(labels[top] == index)[0])
            points = _trace(padded == index, col, top)
            found.append((-_area(points), int(class_id), top, col, points))
    found.sort(key=lambda item: item[:4])
    return [(class_id, points) for _, class_id, _, _, points in found]


def polygons_to_mask(
    polygons: Iterable[tuple[int, Sequence[Point]]],
    height: int,
    width: int,
    background: int = 0,
) -> np.ndarray:
    """A ``height`` x ``width`` uint8 mask: each pixel whose centre lies inside a polygon or
    on its edge (pixel coordinates, see the module docstring) takes its class, later polygons over
    earlier ones; other pixels are ``background``. Polygons with under 3 points are
    skipped; class ids must be 0-255."""
    from PIL import Image, ImageDraw  # the worker image's extra, not the operator's

    if height < 1 or width < 1:
        raise ValueError(f"mask size must be positive, got {height}x{width}")
    canvas = Image.new("L", (2 * width, 2 * height), _byte(background))
    draw = ImageDraw.Draw(canvas)
    for class_id, points in polygons:
        if len(points) < 3:
            continue
        doubled = [(math.floor(2 * x + 0.5), math.floor(2 * y + 0.5)) for x, y in points]
        draw.polygon(doubled, fill=_byte(class_id))
    return np.asarray(canvas, dtype=np.uint8)[1::2, 1::2].copy()


def _byte(class_id: int) -> int:
    if not 0 <= int(class_id) <= 255:
        raise ValueError(f"class id {class_id} does not fit a uint8 mask")
    return int(class_id)


def to_percent(points: Iterable[Point], width: int, height: int) -> list[Point]:
    """Pixel coordinates to Label Studio's percent of the image width / height."""
    _check_size(width, height)
    return [(x * 100.0 / width, y * 100.0 / height) for x, y in points]


def from_percent(points: Iterable[Point], width: int, height: int) -> list[Point]:
    """Label Studio's percent of the image width / height to pixel coordinates."""
    _check_size(width, height)
    return [(x * width / 100.0, y * height / 100.0) for x, y in points]


def _check_size(width: int, height: int) -> None:
    if width <= 0 or height <= 0:
        raise ValueError(f"image size must be positive, got {width}x{height}")
