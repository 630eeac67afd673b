from __future__ import annotations

import numpy as np
import pytest

from medsegkit.data.prepare import make_reader


def cases(kind: str, **options):
    reader = make_reader(kind, options)
    return [reader.load(c) for c in reader.scan(None)]


@pytest.mark.parametrize("kind", ["synthetic-dermoscopy", "synthetic-fundus"])
def test_deterministic_per_case(kind):
    a = cases(kind, count=3, size=64, seed=5)
    b = cases(kind, count=5, size=64, seed=5)
    for x, y in zip(a, b[:3], strict=True):
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.mask, y.mask)
    c = cases(kind, count=1, size=64, seed=6)
    assert not np.array_equal(a[0].mask, c[0].mask)


def test_dermoscopy_lesions_are_darker_but_not_trivially_separable():
    errors = []
    for case in cases("synthetic-dermoscopy", count=8, size=96):
        lesion, skin = case.mask == 1, case.mask == 0
        assert 0.02 < lesion.mean() < 0.6
        grey = case.image.astype(float).mean(axis=2)
        assert grey[lesion].mean() < grey[skin].mean() - 20
        threshold = (grey[lesion].mean() + grey[skin].mean()) / 2
        errors.append(((grey < threshold) != lesion).mean())
    # vignetting, hairs, light gradients and pale lesion borders make a global threshold imperfect
    assert np.mean(errors) > 0.01


def test_fundus_labels_nested_and_styles_differ():
    a = cases("synthetic-fundus", count=4, size=96, style="a")
    b = cases("synthetic-fundus", count=4, size=96, style="b")
    for case in a + b:
        assert set(np.unique(case.mask)) == {0, 1, 2}
        disc = case.mask > 0
        grey = case.image.astype(float).mean(axis=2)
        assert grey[disc].mean() > grey[~disc].mean() + 15
        assert grey[case.mask == 2].mean() > grey[case.mask == 1].mean()
    mean_a = np.mean([c.image.reshape(-1, 3).mean(0) for c in a], axis=0)
    mean_b = np.mean([c.image.reshape(-1, 3).mean(0) for c in b], axis=0)
    assert np.abs(mean_a - mean_b).max() > 20
    contrast_a = np.mean([c.image.std() for c in a])
    contrast_b = np.mean([c.image.std() for c in b])
    assert contrast_b < contrast_a


def test_splits_follow_test_fraction():
    reader = make_reader("synthetic-dermoscopy", {"count": 8, "test_fraction": 0.25})
    splits = [c.split for c in reader.scan(None)]
    assert splits == ["train"] * 6 + ["test"] * 2
