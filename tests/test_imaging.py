"""Pixel helpers: the contour against scipy's morphology, the batch tensor's layout."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from medsegkit.imaging import batch_tensor, contour, overlay, to_tensor


@pytest.mark.parametrize("seed", range(20))
def test_contour_equals_scipy_erosion_then_dilation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    mask = ndimage.binary_opening(rng.random((31, 47)) > 0.45) | (rng.random((31, 47)) > 0.95)
    mask[0, :5] = True  # touching the image's edge
    reference = ndimage.binary_dilation(mask & ~ndimage.binary_erosion(mask, border_value=0))
    np.testing.assert_array_equal(contour(mask), reference)


def test_contour_of_empty_and_full_masks() -> None:
    assert not contour(np.zeros((8, 8), bool)).any()
    full = contour(np.ones((8, 8), bool))
    assert full[0].all() and full[:, -1].all() and not full[3:5, 3:5].any()


def test_overlay_draws_only_the_contour_in_its_colour() -> None:
    image = np.full((16, 16, 3), 100, np.uint8)
    mask = np.zeros((16, 16), bool)
    mask[4:12, 4:12] = True
    drawn = overlay(image, mask, (1, 2, 3))
    assert (drawn[contour(mask)] == (1, 2, 3)).all()
    assert (drawn[~contour(mask)] == 100).all() and (image == 100).all()


def test_batch_tensor_matches_per_image_conversion_in_channels_last_memory() -> None:
    images = [np.random.default_rng(i).integers(0, 256, (6, 10, 3), dtype=np.uint8) for i in range(3)]
    x = batch_tensor(images)
    assert x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(x, torch.stack([to_tensor(image) for image in images]), rtol=0, atol=0)
