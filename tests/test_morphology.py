from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from medsegkit.morphology import dilate, erode, fill_holes

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def masks():
    rng = np.random.default_rng(0)
    yield np.zeros((9, 7), bool)
    yield np.ones((9, 7), bool)
    blob = np.zeros((40, 31), bool)
    blob[5:30, 3:20] = True
    yield blob
    yield blob[:, ::-1] | (rng.random((40, 31)) > 0.97)
    yield rng.random((23, 50)) > 0.6
    edge = np.zeros((20, 20), bool)
    edge[:, :4] = True  # touches the border
    yield edge


@pytest.mark.parametrize("radius", [0, 1, 3, 8, 30])
def test_dilate_equals_iterated_scipy(radius):
    for mask in masks():
        expected = ndimage.binary_dilation(mask, iterations=radius) if radius else mask
        np.testing.assert_array_equal(dilate(mask, radius), expected)


@pytest.mark.parametrize("border_value", [0, 1])
@pytest.mark.parametrize("radius", [0, 1, 3, 8, 30])
def test_erode_equals_iterated_scipy(radius, border_value):
    for mask in masks():
        expected = ndimage.binary_erosion(mask, iterations=radius, border_value=border_value) if radius else mask
        np.testing.assert_array_equal(erode(mask, radius, border_value), expected)


def test_fill_holes_equals_scipy():
    ring = np.zeros((12, 12), bool)
    ring[2:10, 2:10] = True
    ring[4:6, 4:6] = False  # a hole
    ring[7, 2] = False  # a notch open to the outside of the square, not a hole
    for mask in [*masks(), ring, ~ring]:
        np.testing.assert_array_equal(fill_holes(mask), ndimage.binary_fill_holes(mask))
    assert fill_holes(ring)[4, 4] and not fill_holes(ring)[7, 2]
