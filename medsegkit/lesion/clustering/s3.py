"""S3-Net per-image optimisation (Karimijafarbigloo et al., ICCVW 2023) and its s3-stn variant.

A fresh network is fitted to one image with ``λ1·CE(self-label) + λ2·affine consistency +
λ3·spatial consistency`` (+ ``α·boundary`` for s3-stn), SGD with momentum, until the number of
distinct labels falls to ``min_labels`` (after ``min_iter`` iterations) or ``max_iter`` is reached.

Several images can be optimised in one step (:meth:`S3Clusterer.segment_batch`): each keeps its own network,
initialised from its own seed, its own random affines and its own early stop, so the cluster maps are those
of one image at a time (up to the order of floating-point sums in the batched operators). The networks'
parameters are stacked (``torch.func.stack_module_state``) and one forward per image is vectorised with
``torch.func.vmap`` over ``torch.func.functional_call``; the per-image losses are summed, so each network's
gradient is its own loss's, and SGD with momentum acts element by element, so one optimiser serves them all.
Both forms run the same loop (:func:`_optimise`); an image that meets its stopping rule leaves the batch.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from medsegkit import registry
from medsegkit.imaging import to_tensor
from medsegkit.layers.stn import warp
from medsegkit.lesion.clustering.base import Clusterer, ClusterResult
from medsegkit.lesion.config import S3Config, S3STNConfig
from medsegkit.losses.s3 import AffineConsistencyLoss, BoundaryLoss, SelfLabelLoss, SpatialConsistencyLoss, self_labels
from medsegkit.models import create_model

Forward = Callable[[torch.Tensor, bool], tuple[torch.Tensor, torch.Tensor | None]]
Tensors = dict[str, torch.Tensor]


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
        return _optimise(self, _Single(self, image, seed), [torch.Generator().manual_seed(seed)])[0]

    def segment_batch(self, images: list[np.ndarray], seeds: list[int]) -> list[ClusterResult]:
        """Cluster ``images`` (each ``(H, W, 3)`` uint8, all the same size) with one seed each, their independent
        networks optimised in one step; one :class:`ClusterResult` per image, in order."""
        if len(images) != len(seeds):
            raise ValueError(f"segment_batch needs one seed per image, got {len(images)} images and {len(seeds)} seeds")
        if len({im.shape for im in images}) > 1:
            raise ValueError("segment_batch needs images of one size (the runner resizes them to the working size)")
        with warnings.catch_warnings():  # affine_grid has no batching rule yet: vmap loops over it, and says so
            warnings.filterwarnings("ignore", message="There is a performance drop")
            return _optimise(self, _Stacked(self, images, seeds), [torch.Generator().manual_seed(s) for s in seeds])


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


class _Single:
    """One image's network, stepped as it is."""

    def __init__(self, clusterer: S3Clusterer, image: np.ndarray, seed: int) -> None:
        self.clusterer, self.model, self.x = clusterer, clusterer.build(seed), clusterer.image_tensor(image)
        self.optimiser = clusterer.optimiser(list(self.model.named_parameters()))

    def step(self, thetas: torch.Tensor) -> torch.Tensor:
        """One SGD step for ``thetas`` ``(1, 1, 2, 3)``; the self-labels ``(1, 1, H, W)`` before it."""
        loss, labels = self.clusterer.objective(lambda i, e: run_network(self.model, i, e), self.x, thetas[0])
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        return labels[None]

    def drop(self, keep: list[int]) -> None:  # one image: the loop ends when it finishes
        raise AssertionError("a single image never leaves a batch of others")


class _WithExtras(nn.Module):
    """Calls ``forward_with_extras`` when asked, so that ``functional_call`` reaches the auxiliary head."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, extras: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        return run_network(self.model, x, extras)


class _Stacked:
    """Several images' networks as stacked parameters, stepped together under ``vmap``."""

    def __init__(self, clusterer: S3Clusterer, images: list[np.ndarray], seeds: list[int]) -> None:
        models = [clusterer.build(seed) for seed in seeds]  # the same initialisation as segment()
        base = _WithExtras(copy.deepcopy(models[0]).to("meta"))
        self.clusterer = clusterer
        self.params, self.buffers = stack_module_state(models)
        self.xs = torch.stack([clusterer.image_tensor(im) for im in images])  # (B, 1, 3, H, W)
        self.optimiser = clusterer.optimiser(list(self.params.items()))

        def one(p: Tensors, b: Tensors, x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            state = {f"model.{k}": v for k, v in {**p, **b}.items()}
            return clusterer.objective(lambda inp, extras: functional_call(base, state, (inp, extras)), x, theta)

        self.batched = vmap(one, randomness="error")

    def step(self, thetas: torch.Tensor) -> torch.Tensor:
        """One SGD step of every network for ``thetas`` ``(B, 1, 2, 3)``; the self-labels ``(B, 1, H, W)``."""
        losses, labels = self.batched(self.params, self.buffers, self.xs, thetas)
        self.optimiser.zero_grad(set_to_none=True)
        losses.sum().backward()
        self.optimiser.step()
        return labels

    def drop(self, keep: list[int]) -> None:
        """Keep rows ``keep`` of every parameter, buffer, image and momentum buffer."""
        index = torch.tensor(keep, device=self.xs.device)
        momentum = {name: self.optimiser.state.get(p, {}).get("momentum_buffer") for name, p in self.params.items()}
        self.params = {name: p.detach()[index].requires_grad_() for name, p in self.params.items()}
        self.optimiser = self.clusterer.optimiser(list(self.params.items()))
        for name, p in self.params.items():
            if momentum[name] is not None:
                self.optimiser.state[p]["momentum_buffer"] = momentum[name][index]
        self.buffers = {name: b[index] for name, b in self.buffers.items()}
        self.xs = self.xs[index]


def _optimise(
    clusterer: S3Clusterer, nets: _Single | _Stacked, generators: list[torch.Generator]
) -> list[ClusterResult]:
    """Step ``nets`` (one network per generator) until every image has met its stopping rule; finished
    images leave the batch. One :class:`ClusterResult` per image, in order."""
    cfg = clusterer.config
    active = list(range(len(generators)))  # images still optimised, in the order of the stacked parameters
    histories: list[list[int]] = [[] for _ in generators]
    results: list[ClusterResult | None] = [None] * len(generators)
    for iteration in range(1, cfg.max_iter + 1):
        thetas = torch.stack([random_affine(generators[i], cfg) for i in active]).to(clusterer.device)
        labels = nets.step(thetas)
        keep = []
        for row, i in enumerate(active):
            histories[i].append(count_labels(labels[row]))
            if clusterer.stop(iteration, histories[i][-1]):
                results[i] = ClusterResult(relabel(labels[row, 0].cpu().numpy()), len(histories[i]), histories[i])
            else:
                keep.append(row)
        if not keep:
            break
        if len(keep) < len(active):
            active = [active[row] for row in keep]
            nets.drop(keep)
    return [r for r in results if r is not None]


__all__ = ["S3Clusterer", "S3STNClusterer", "count_labels", "random_affine", "relabel", "run_network"]
