"""k-means on pixel colours: the baseline for annotation-free lesion segmentation."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from scipy.cluster.vq import kmeans2

from medsegkit.lesion.clustering.base import Clusterer, ClusterResult
from medsegkit.lesion.config import KMeansConfig


class KMeansClusterer(Clusterer):
    """k-means++ on RGB (optionally with pixel coordinates) with ``num_clusters`` clusters (2)."""

    Config: ClassVar[type] = KMeansConfig
    config: KMeansConfig

    def segment(self, image: np.ndarray, seed: int) -> ClusterResult:
        h, w = image.shape[:2]
        data = image.reshape(-1, 3).astype(np.float64) / 255.0
        if self.config.features == "rgb-xy":
            rows, cols = np.mgrid[0:h, 0:w]
            coords = np.stack([rows.ravel() / max(h, w), cols.ravel() / max(h, w)], axis=1) * self.config.xy_weight
            data = np.concatenate([data, coords], axis=1)
        rng = np.random.default_rng(seed)
        _, labels = kmeans2(data, self.config.num_clusters, iter=self.config.max_iter, minit="++", seed=rng)
        clusters = labels.reshape(h, w).astype(np.int32)
        return ClusterResult(clusters, iterations=self.config.max_iter)
