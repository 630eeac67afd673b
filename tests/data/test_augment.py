"""Joint augmentation: the object zoom, the recipes, image and labels moving together."""

from __future__ import annotations

import pytest
import torch

from medsegkit.data.augment import OBJECT_AREA, RECIPES, ObjectZoom, augment, object_shares, train_transform


def disc_scene(h: int = 90, w: int = 120, radius: int = 18) -> tuple[torch.Tensor, torch.Tensor]:
    """A bright disc (labels 1, cup 2 inside) on a textured background; image channel 0 is the disc."""
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    d = ((rows - 40) ** 2 + (cols - 70) ** 2).float().sqrt()
    labels = (d < radius).long() + (d < radius / 2).long()
    image = torch.stack([(d < radius).float(), torch.rand(h, w), cols.float() / w])
    return image, labels


@pytest.mark.parametrize("seed", range(12))
def test_object_zoom_makes_the_object_fill_a_share_in_range(seed):
    image, labels = disc_scene()
    torch.manual_seed(seed)
    img, lab = ObjectZoom(64)(image, labels)
    assert img.shape == (3, 64, 64) and lab.shape == (64, 64) and lab.dtype == labels.dtype
    share = float((lab > 0).float().mean())
    # the drawn share, up to the disc's own rasterisation, the centre jitter and the clamp of the zoom
    assert OBJECT_AREA[0] * 0.7 <= share <= OBJECT_AREA[1] * 1.2
    assert set(lab.unique().tolist()) <= {0, 1, 2}
    # image and labels moved together: the disc channel lines up with the labels
    assert ((img[0] > 0.5) == (lab > 0)).float().mean() > 0.97


def test_object_zoom_spans_zooming_in_and_out():
    image, labels = disc_scene(radius=30)
    before = float((labels > 0).sum()) / 90**2
    shares = []
    for seed in range(40):
        torch.manual_seed(seed)
        shares.append(float((ObjectZoom(64)(image, labels)[1] > 0).float().mean()))
    assert min(shares) < before < max(shares)  # zoomed out on some draws, in on others
    assert max(shares) > 0.45 and min(shares) < 0.6 * before


def test_object_zoom_without_an_object_keeps_the_labels_empty():
    image, _ = disc_scene()
    torch.manual_seed(0)
    img, lab = ObjectZoom(32)(image, torch.zeros(90, 120, dtype=torch.long))
    assert img.shape == (3, 32, 32) and not lab.any()


@pytest.mark.parametrize("recipe", RECIPES)
def test_augment_is_seeded_and_leaves_the_global_rng_alone(recipe):
    image, labels = disc_scene()
    torch.manual_seed(123)
    expected = torch.rand(())
    torch.manual_seed(123)
    a = augment(image, labels, 48, seed=7, recipe=recipe)
    b = augment(image, labels, 48, seed=7, recipe=recipe)
    assert torch.rand(()) == expected
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert a[0].shape == (3, 48, 48) and 0 <= a[0].min() and a[0].max() <= 1


def test_robust_recipe_varies_lighting_more_than_the_reference():
    image, labels = disc_scene()
    image = image * 0 + 0.5  # flat grey: only photometric transforms change the mean
    means = {r: [float(augment(image, labels, 32, s, r)[0].mean()) for s in range(30)] for r in ("robust", "reference")}
    spread = {r: torch.tensor(v).std().item() for r, v in means.items()}
    assert spread["robust"] > 1.5 * spread["reference"]


def test_unknown_recipe_is_refused():
    with pytest.raises(ValueError, match="recipe must be one of robust, reference, keep-scale"):
        train_transform(32, "fancy")


def test_keep_scale_leaves_a_small_object_small_where_robust_enlarges_it():
    image = torch.rand(3, 96, 96)
    labels = torch.zeros(96, 96, dtype=torch.int64)
    labels[40:50, 40:50] = 1  # about 1 % of the image
    share = {
        r: [float((augment(image, labels, 64, s, r)[1] > 0).float().mean()) for s in range(20)]
        for r in ("keep-scale", "robust")
    }
    assert max(share["keep-scale"]) <= 0.025  # zoom in by at most the crop's 2x in area
    assert min(share["robust"]) >= 0.05


def test_robust_zoom_draws_the_object_share_from_the_given_shares():
    image = torch.rand(3, 96, 96)
    labels = torch.zeros(96, 96, dtype=torch.int64)
    labels[40:50, 40:50] = 1  # about 1 % of the image
    shares = [float((augment(image, labels, 64, s, "robust", (0.01, 0.1))[1] > 0).float().mean()) for s in range(30)]
    # each draw near one of the two (up to the affine jitter); the default range would give at least 0.05
    assert all(v <= 0.025 or 0.06 <= v <= 0.15 for v in shares), shares
    assert min(shares) <= 0.025 and max(shares) >= 0.06


def test_object_shares_lists_each_object_counting_every_label_above_zero():
    a, b = torch.zeros(20, 20, dtype=torch.int64), torch.zeros(20, 20, dtype=torch.int64)
    a[:2, :2] = 1  # 1 %
    b[:10, :10], b[10, :10] = 1, 255  # 25 % lesion and a 2.5 % ignored band: 27.5 %, as ObjectZoom counts it
    assert object_shares([b, torch.zeros(20, 20), a]) == pytest.approx((0.01, 0.275))
    assert object_shares([torch.zeros(4, 4)]) == ()
