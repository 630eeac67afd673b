from __future__ import annotations

import re

import numpy as np
import pytest

from medsegkit import metrics
from medsegkit.data.prepare import make_reader
from medsegkit.errors import UsageError
from medsegkit.lesion.blind.selection import select_foreground
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.clustering.s3 import S3Clusterer, S3STNClusterer, random_affine
from medsegkit.lesion.config import S3Config

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread

TINY = dict(channels=8, num_blocks=1, max_iter=3, min_iter=1)


def synthetic(n: int = 6, size: int = 96):
    reader = make_reader("synthetic-dermoscopy", {"count": n, "size": size, "seed": 3})
    return [reader.load(c) for c in reader.scan(None)]


def test_blind_selector_prefers_the_central_dark_blob_over_dark_corners():
    size = 64
    rows, cols = np.mgrid[0:size, 0:size]
    lesion = np.hypot(rows - 30, cols - 34) < 12
    corners = np.hypot(rows - size / 2, cols - size / 2) > 40
    image = np.full((size, size, 3), 200, np.uint8)
    image[lesion] = 60
    image[corners] = 20  # darker than the lesion: the vignette
    clusters = np.zeros((size, size), int)
    clusters[lesion], clusters[corners] = 1, 2
    chosen = select_foreground(image, clusters)
    assert metrics.dice(chosen, lesion) > 0.97
    # the lesion split into a dark core and a lighter rim: the union of both is chosen
    core = np.hypot(rows - 30, cols - 34) < 6
    clusters[core] = 3
    image[core] = 40
    assert metrics.dice(select_foreground(image, clusters), lesion) > 0.97


def test_blind_selector_on_kmeans_of_synthetic_dermoscopy():
    dice = [
        metrics.dice(select_foreground(c.image, KMeansClusterer().segment(c.image, 0).clusters), c.mask)
        for c in synthetic()
    ]
    assert np.mean(dice) > 0.7


def test_single_cluster_gives_empty_mask():
    assert not select_foreground(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8), int)).any()


def test_kmeans_is_seeded():
    image = synthetic(1)[0].image
    a, b = KMeansClusterer().segment(image, 1), KMeansClusterer().segment(image, 1)
    np.testing.assert_array_equal(a.clusters, b.clusters)
    assert set(np.unique(a.clusters)) == {0, 1}


@pytest.mark.parametrize("method", [S3Clusterer, S3STNClusterer])
def test_s3_runs_stops_and_is_deterministic(method):
    image = synthetic(1, 32)[0].image
    config = method.Config(**TINY)
    first = method(config).segment(image, 7)
    assert first.clusters.shape == (32, 32) and 1 <= first.iterations <= 3
    assert len(first.label_history) == first.iterations
    np.testing.assert_array_equal(first.clusters, method(config).segment(image, 7).clusters)
    assert first.clusters.min() == 0 and first.clusters.max() == np.unique(first.clusters).size - 1


def test_s3_auxiliary_head_loss_runs():
    image = synthetic(1, 32)[0].image
    result = S3Clusterer(S3Config(**{**TINY, "lambda_aux": 0.5})).segment(image, 0)
    assert result.clusters.shape == (32, 32)


def test_s3_early_stop_at_min_labels():
    image = synthetic(1, 32)[0].image
    result = S3Clusterer(S3Config(**{**TINY, "max_iter": 40, "min_iter": 2, "min_labels": 30})).segment(image, 0)
    assert result.iterations == 2  # 8 clusters <= 30 after the minimum of 2 iterations


def test_s3_config_validation_and_options():
    with pytest.raises(ValueError, match="min_iter <= max_iter"):
        S3Config(max_iter=2, min_iter=5)
    method = S3Clusterer.from_options("s3", None, {"lr": "0.05", "scale": "0.8,1.2"})
    assert method.config.lr == 0.05 and method.config.scale == (0.8, 1.2)
    with pytest.raises(UsageError, match="clusterer 's3' does not take widgets"):
        S3Clusterer.from_options("s3", None, {"widgets": 3})
    with pytest.raises(UsageError, match="clusterer 's3': lr expects float"):
        S3Clusterer.from_options("s3", None, {"lr": "fast"})


@pytest.mark.parametrize(
    "options, message",
    [
        ({"scale": "1.0"}, "scale expects 2 comma-separated values, got '1.0'"),
        ({"scale": "0.9,1.1,1.2"}, "scale expects 2 comma-separated values"),
        ({"scale": "0.9,big"}, "scale expects float, got 'big'"),
        ({"scale": [1.2, 0.9]}, "scale must be two increasing positive numbers"),
        ({"max_iter": "2.5"}, "max_iter expects int, got '2.5'"),
        ({"stem_stride": 3}, "stem_stride must be one of 1, 2, got 3"),
        ({"channels_last": "maybe"}, "channels_last expects true or false"),
        ({"min_labels": 1}, "min_labels must be at least 2"),
    ],
)
def test_every_bad_config_value_is_one_usage_error(options, message):
    with pytest.raises(UsageError, match=re.escape(message)):
        S3Clusterer.from_options("s3", None, options)


def test_random_affine_respects_ranges():
    import torch

    generator = torch.Generator().manual_seed(0)
    theta = random_affine(generator, S3Config(rotation=0, shear=0, scale=(1.0, 1.0), translate=0.0))
    torch.testing.assert_close(theta, torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]]))


def test_the_plugin_facing_path_of_the_clusterer_contract_still_works():
    from medsegkit.lesion import clusterer
    from medsegkit.lesion.clustering import base

    assert clusterer.Clusterer is base.Clusterer and clusterer.ClusterResult is base.ClusterResult
