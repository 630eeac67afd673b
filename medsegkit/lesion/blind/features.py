"""A cluster map from what an ImageNet network sees: candidates for lesions whose colour barely leaves the skin's.

A faint lesion, or one that fills the frame, is close to its skin in colour, so the colour clusterings split it
badly; an ImageNet encoder's mid-level features respond to texture and pattern as well (a pigment network, the
lesion's grain), which differ there. The image (at the working size) goes through EfficientNet-Lite0, the encoder
the fundus models and self-training already use, with the ImageNet weights of the installed package (nothing is
downloaded); its stride-8 feature vectors, scaled to unit length, are clustered per image by k-means
(``scipy.cluster.vq.kmeans2``, k-means++ seeding), and every pixel takes the cluster of its bilinearly upsampled
feature vector. The map then yields unions of clusters, colour-refined and scored, like any other map.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F
from scipy.cluster.vq import kmeans2

ENCODER = "efficientnet-lite0"
STAGE = 2  # timm's feature stage at stride 8: 40 channels of EfficientNet-Lite0
NUM_CLUSTERS = 3  # as many as the colour second opinion (per_image.SECOND_OPINION)


@functools.lru_cache(maxsize=1)
def extractor() -> torch.nn.Module:
    """EfficientNet-Lite0 up to its stride-8 stage, with the installed package's ImageNet weights, in eval mode.
    A missing package is a one-line :class:`~medsegkit.errors.UsageError` naming what to install."""
    import timm

    from medsegkit.models.pretrained import ENCODERS, imagenet_state_dict

    model = timm.create_model(ENCODERS[ENCODER][0], pretrained=False, features_only=True, out_indices=(STAGE,))
    state = imagenet_state_dict(ENCODER)
    model.load_state_dict({k: state[k] for k in model.state_dict()}, strict=True)
    return model.eval()


@torch.no_grad()
def feature_clusters(image: np.ndarray, seed: int, k: int = NUM_CLUSTERS) -> np.ndarray:
    """The cluster ``(H, W)`` int64 of every pixel of an ``(H, W, 3)`` uint8 image, ``0 .. k−1``, by k-means of the
    encoder's unit-length stride-8 features (module docstring); seeded by ``seed``."""
    model = extractor()
    mean = torch.tensor(model.pretrained_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(model.pretrained_cfg["std"]).view(1, 3, 1, 1)
    x = torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    features = F.normalize(model((x - mean) / std)[0], dim=1)  # (1, C, h, w)
    vectors = features[0].flatten(1).T.double().numpy()
    centroids, _ = kmeans2(vectors, k, seed=np.random.default_rng(seed), minit="++")
    upsampled = F.interpolate(features, size=image.shape[:2], mode="bilinear", align_corners=False)[0]
    similarity = torch.einsum("chw,kc->khw", upsampled.double(), torch.from_numpy(centroids))
    return similarity.argmax(0).numpy().astype(np.int64)
