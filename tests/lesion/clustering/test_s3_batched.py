"""Batched S3-Net: the same cluster maps as one image at a time, early stops included."""

from __future__ import annotations

import numpy as np
import pytest

from medsegkit.data.prepare import make_reader
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.clustering.s3 import S3Clusterer, S3STNClusterer
from medsegkit.lesion.config import KMeansConfig, S3Config

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread

TINY = dict(channels=8, num_blocks=1, max_iter=4, min_iter=1)
SEEDS = [11, 12, 13, 14]


@pytest.fixture(scope="module")
def images() -> list[np.ndarray]:
    reader = make_reader("synthetic-dermoscopy", {"count": 4, "size": 48, "seed": 3})
    return [reader.load(c).image for c in reader.scan(None)]


def same(single, batched) -> None:
    assert [r.iterations for r in batched] == [r.iterations for r in single]
    assert [r.label_history for r in batched] == [r.label_history for r in single]
    for a, b in zip(single, batched, strict=True):
        assert (a.clusters == b.clusters).mean() > 0.995  # the batched operators sum in another order


@pytest.mark.parametrize(
    ("method", "options"),
    [
        (S3Clusterer, {}),
        (S3Clusterer, {"affine_target": "both", "lambda_aux": 0.5}),
        (S3STNClusterer, {}),
    ],
)
def test_batched_maps_equal_one_at_a_time(images, method, options):
    clusterer = method(method.Config(**{**TINY, **options}))
    same(
        [clusterer.segment(im, s) for im, s in zip(images, SEEDS, strict=True)], clusterer.segment_batch(images, SEEDS)
    )


def test_images_that_stop_early_leave_the_batch(images):
    clusterer = S3Clusterer(S3Config(**{**TINY, "max_iter": 8, "min_labels": 7}))
    single = [clusterer.segment(im, s) for im, s in zip(images, SEEDS, strict=True)]
    assert len({r.iterations for r in single}) > 1  # the case this test is about: different stops
    same(single, clusterer.segment_batch(images, SEEDS))


def test_batch_order_and_size_do_not_change_an_image(images):
    clusterer = S3Clusterer(S3Config(**TINY))
    pair = clusterer.segment_batch(images[2:], SEEDS[2:])
    reversed_ = clusterer.segment_batch(images[::-1], SEEDS[::-1])
    for a, b in zip(pair, reversed_[:2][::-1], strict=True):
        assert (a.clusters == b.clusters).mean() > 0.995


def test_batch_arguments_are_checked(images):
    clusterer = S3Clusterer(S3Config(**TINY))
    with pytest.raises(ValueError, match="one seed per image"):
        clusterer.segment_batch(images, SEEDS[:2])
    with pytest.raises(ValueError, match="one size"):
        clusterer.segment_batch([images[0], images[1][:40]], SEEDS[:2])


def test_the_default_segment_batch_runs_images_in_turn(images):
    kmeans = KMeansClusterer(KMeansConfig(num_clusters=3))
    for image, seed, result in zip(images, SEEDS, kmeans.segment_batch(images, SEEDS), strict=True):
        np.testing.assert_array_equal(result.clusters, kmeans.segment(image, seed).clusters)
