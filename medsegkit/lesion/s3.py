"""S3-Net per-image optimisation (Karimijafarbigloo et al., ICCVW 2023) and its s3-stn variant.

A fresh network is fitted to one image with ``λ1·CE(self-label) + λ2·affine consistency +
λ3·spatial consistency`` (+ ``α·boundary`` for s3-stn), SGD with momentum, until the number of
distinct labels falls to ``min_labels`` (after ``min_iter`` iterations) or ``max_iter`` is reached.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import registry
from medsegkit.imaging import to_tensor
from medsegkit.layers.stn import warp
from medsegkit.lesion.clusterer import Clusterer, ClusterResult
from medsegkit.lesion.config import S3Config, S3STNConfig
from medsegkit.losses.s3 import AffineConsistencyLoss, BoundaryLoss, SelfLabelLoss, SpatialConsistencyLoss, self_labels
from medsegkit.models import create_model


def random_affine(generator: torch.Generator, config: S3Config) -> torch.Tensor:
    """A random 2x3 affine ``theta`` ``(1, 2, 3)`` in normalised coordinates (rotation, shear, scale, translation)."""

    def uniform(lo: float, hi: float) -> float:
        return lo + (hi - lo) * float(torch.rand((), generator=generator))

    angle = math.radians(uniform(-config.rotation, config.rotation))
    shear = math.radians(uniform(-config.shear, config.shear))
    scale = uniform(*config.scale)
    tx, ty = uniform(-config.translate, config.translate), uniform(-config.translate, config.translate)
    rotation = torch.tensor([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    shearing = torch.tensor([[1.0, math.tan(shear)], [0.0, 1.0]])
    linear = rotation @ shearing / scale
    return torch.cat([linear, torch.tensor([[tx], [ty]])], dim=1).unsqueeze(0)


class S3Clusterer(Clusterer):
    """Annotation-free per-image clustering with S3-Net."""

    Config: ClassVar[type] = S3Config
    config: S3Config

    def __init__(self, config: S3Config | None = None, device: str = "cpu") -> None:
        super().__init__(config, device)
        registry.load("models", self.config.model)
        registry.load("attention", self.config.attention)

    def segment(self, image: np.ndarray, seed: int) -> ClusterResult:
        """Cluster one ``(H, W, 3)`` uint8 image; returns the ``(H, W)`` cluster map."""
        cfg = self.config
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        model = create_model(
            cfg.model,
            channels=cfg.channels,
            num_clusters=cfg.num_clusters,
            num_blocks=cfg.num_blocks,
            attention=cfg.attention,
            stem_stride=cfg.stem_stride,
            deform_impl=cfg.deform_impl,
        )
        memory = torch.channels_last if cfg.channels_last else torch.contiguous_format
        model = model.to(device=self.device, memory_format=memory).train()
        stn = [p for n, p in model.named_parameters() if n.startswith("stn.")]
        rest = [p for n, p in model.named_parameters() if not n.startswith("stn.")]
        groups = [{"params": rest}] + ([{"params": stn, "lr": cfg.lr * cfg.stn_lr_scale}] if stn else [])
        optimiser = torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
        ce, affine, spatial = SelfLabelLoss(), AffineConsistencyLoss(), SpatialConsistencyLoss(cfg.edge_sigma)
        boundary = BoundaryLoss(cfg.boundary_factor) if cfg.lambda_boundary else None

        def forward(inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
            """Logits, and the auxiliary head's scores only when the auxiliary loss needs them."""
            if not cfg.lambda_aux:
                return model(inputs), None
            logits, extras = model.forward_with_extras(inputs)
            return logits, extras["aux"]

        x = to_tensor(image).unsqueeze(0).to(self.device)
        x = (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)
        history: list[int] = []
        labels = None
        for iteration in range(1, cfg.max_iter + 1):
            theta = random_affine(generator, cfg).to(self.device)
            x_t = warp(x, theta, mode="bilinear")
            if cfg.affine_target == "transformed":
                # f(T(x)) serves as a fixed target for T(f(x)): one forward pass without backward
                logits, aux = forward(x.contiguous(memory_format=memory))
                with torch.no_grad():
                    logits_t = model(x_t.contiguous(memory_format=memory))
            else:
                both, aux = forward(torch.cat([x, x_t]).contiguous(memory_format=memory))
                logits, logits_t, aux = both[:1], both[1:], aux[:1] if aux is not None else None
            p, p_t = logits.softmax(dim=1), logits_t.softmax(dim=1)
            labels = self_labels(logits)
            loss = (
                cfg.lambda_ce * ce(logits, labels)
                + cfg.lambda_affine * affine(p, p_t, theta)
                + cfg.lambda_spatial * spatial(logits if cfg.spatial_on == "logits" else p, x)
            )
            if boundary is not None:
                loss = loss + cfg.lambda_boundary * boundary(p)
            if aux is not None:
                target = F.interpolate(
                    logits.detach(), size=aux.shape[-2:], mode="bilinear", align_corners=False
                ).argmax(dim=1)
                loss = loss + cfg.lambda_aux * F.cross_entropy(aux, target)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            n_labels = int(torch.count_nonzero(torch.bincount(labels.flatten())))
            history.append(n_labels)
            if iteration >= cfg.min_iter and n_labels <= cfg.min_labels:
                break
        assert labels is not None
        clusters = _relabel(labels[0].cpu().numpy())
        return ClusterResult(clusters, iterations=len(history), label_history=history)


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster ids to 0..n-1 by decreasing size, so maps are comparable and fit in uint8."""
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse].reshape(labels.shape).astype(np.int32)


class S3STNClusterer(S3Clusterer):
    """S3-Net with a learnable spatial transformer and a boundary loss."""

    Config: ClassVar[type] = S3STNConfig


__all__ = ["S3Clusterer", "S3STNClusterer", "random_affine"]
