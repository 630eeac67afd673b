"""S3-Net per-image optimisation (Karimijafarbigloo et al., ICCVW 2023) and its s3-stn variant.

A fresh network is fitted to one image with ``λ1·CE(self-label) + λ2·affine consistency +
λ3·spatial consistency`` (+ ``α·boundary`` for s3-stn), SGD with momentum, until the number of
distinct labels falls to ``min_labels`` (after ``min_iter`` iterations) or ``max_iter`` is reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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

Forward = Callable[[torch.Tensor, bool], tuple[torch.Tensor, torch.Tensor | None]]


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
        cfg = self.config
        self.losses: dict[str, torch.nn.Module] = {
            "ce": SelfLabelLoss(),
            "affine": AffineConsistencyLoss(),
            "spatial": SpatialConsistencyLoss(cfg.edge_sigma),
            "boundary": BoundaryLoss(cfg.boundary_factor),
        }

    def build(self, seed: int) -> torch.nn.Module:
        """A fresh network for one image, initialised from ``seed`` (``torch.manual_seed``), in training mode."""
        cfg = self.config
        torch.manual_seed(seed)
        model = create_model(
            cfg.model,
            channels=cfg.channels,
            num_clusters=cfg.num_clusters,
            num_blocks=cfg.num_blocks,
            attention=cfg.attention,
            stem_stride=cfg.stem_stride,
            deform_impl=cfg.deform_impl,
        )
        return model.to(device=self.device, memory_format=self.memory_format).train()

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.config.channels_last else torch.contiguous_format

    def optimiser(self, named: list[tuple[str, torch.Tensor]]) -> torch.optim.SGD:
        """SGD with momentum; the spatial transformer's parameters (names ``stn.*``) at ``stn_lr_scale`` × lr."""
        cfg = self.config
        stn = [p for n, p in named if n.startswith("stn.")]
        rest = [p for n, p in named if not n.startswith("stn.")]
        groups = [{"params": rest}] + ([{"params": stn, "lr": cfg.lr * cfg.stn_lr_scale}] if stn else [])
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)

    def image_tensor(self, image: np.ndarray) -> torch.Tensor:
        """``(H, W, 3)`` uint8 -> ``(1, 3, H, W)`` float, standardised per channel."""
        x = to_tensor(image).unsqueeze(0).to(self.device)
        return (x - x.mean(dim=(2, 3), keepdim=True)) / x.std(dim=(2, 3), keepdim=True).clamp_min(1e-3)

    def objective(self, forward: Forward, x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration's loss and self-labels ``(1, H, W)`` for image ``x`` ``(1, 3, H, W)`` and affine ``theta``.

        ``forward(inputs, extras)`` runs the network: logits, and the auxiliary head's scores when ``extras``.
        """
        cfg = self.config
        memory = self.memory_format
        x_t = warp(x, theta, mode="bilinear")
        if cfg.affine_target == "transformed":
            # f(T(x)) serves as a fixed target for T(f(x)): one forward pass without backward
            logits, aux = forward(x.contiguous(memory_format=memory), bool(cfg.lambda_aux))
            with torch.no_grad():
                logits_t, _ = forward(x_t.contiguous(memory_format=memory), False)
        else:
            both, aux = forward(torch.cat([x, x_t]).contiguous(memory_format=memory), bool(cfg.lambda_aux))
            logits, logits_t, aux = both[:1], both[1:], aux[:1] if aux is not None else None
        p, p_t = logits.softmax(dim=1), logits_t.softmax(dim=1)
        labels = self_labels(logits)
        loss = (
            cfg.lambda_ce * self.losses["ce"](logits, labels)
            + cfg.lambda_affine * self.losses["affine"](p, p_t, theta)
            + cfg.lambda_spatial * self.losses["spatial"](logits if cfg.spatial_on == "logits" else p, x)
        )
        if cfg.lambda_boundary:
            loss = loss + cfg.lambda_boundary * self.losses["boundary"](p)
        if aux is not None:
            target = F.interpolate(logits.detach(), size=aux.shape[-2:], mode="bilinear", align_corners=False)
            loss = loss + cfg.lambda_aux * F.cross_entropy(aux, target.argmax(dim=1))
        return loss, labels

    def stop(self, iteration: int, n_labels: int) -> bool:
        """Stop at ``max_iter``, or once ``min_labels`` or fewer labels are left after ``min_iter`` iterations."""
        cfg = self.config
        return iteration >= cfg.max_iter or (iteration >= cfg.min_iter and n_labels <= cfg.min_labels)

    def segment(self, image: np.ndarray, seed: int) -> ClusterResult:
        """Cluster one ``(H, W, 3)`` uint8 image; returns the ``(H, W)`` cluster map."""
        model = self.build(seed)
        generator = torch.Generator().manual_seed(seed)
        optimiser = self.optimiser(list(model.named_parameters()))

        x = self.image_tensor(image)
        history: list[int] = []
        for iteration in range(1, self.config.max_iter + 1):
            theta = random_affine(generator, self.config).to(self.device)
            loss, labels = self.objective(lambda inputs, extras: run_network(model, inputs, extras), x, theta)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            history.append(count_labels(labels))
            if self.stop(iteration, history[-1]):
                break
        return ClusterResult(relabel(labels[0].cpu().numpy()), iterations=len(history), label_history=history)

    def segment_batch(self, images: list[np.ndarray], seeds: list[int]) -> list[ClusterResult]:
        """Optimise the independent networks of several images in one step (:func:`segment_batched`)."""
        from medsegkit.lesion.s3_batched import segment_batched

        return segment_batched(self, images, seeds)


def run_network(model: torch.nn.Module, inputs: torch.Tensor, extras: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The logits, and the auxiliary head's scores when ``extras`` (the auxiliary loss needs them)."""
    if not extras:
        return model(inputs), None
    logits, more = model.forward_with_extras(inputs)
    return logits, more["aux"]


def count_labels(labels: torch.Tensor) -> int:
    """How many distinct cluster ids a label map ``(..., H, W)`` holds."""
    return int(torch.count_nonzero(torch.bincount(labels.flatten())))


def relabel(labels: np.ndarray) -> np.ndarray:
    """Renumber cluster ids to 0..n-1 by decreasing size, so maps are comparable and fit in uint8."""
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    return rank[inverse].reshape(labels.shape).astype(np.int32)


class S3STNClusterer(S3Clusterer):
    """S3-Net with a learnable spatial transformer and a boundary loss."""

    Config: ClassVar[type] = S3STNConfig


__all__ = ["S3Clusterer", "S3STNClusterer", "count_labels", "random_affine", "relabel", "run_network"]
