"""Batched S3-Net: the independent networks of several images optimised in one step.

Each image keeps its own network, initialised from its own seed, its own random affines and its own
early stop, so the cluster maps are those of one-at-a-time :meth:`S3Clusterer.segment` runs (up to the
order of floating-point sums in the batched operators). The networks' parameters are stacked
(``torch.func.stack_module_state``) and one forward per image is vectorised with ``torch.func.vmap``
over ``torch.func.functional_call``; the per-image losses are summed, so each network's gradient is
its own loss's, and SGD with momentum acts element by element, so one optimiser serves them all. An
image that meets its stopping rule leaves the batch: its map is kept, its parameters dropped.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from medsegkit.lesion.clusterer import ClusterResult
from medsegkit.lesion.s3 import S3Clusterer, count_labels, random_affine, relabel, run_network

Tensors = dict[str, torch.Tensor]


class _WithExtras(nn.Module):
    """Calls ``forward_with_extras`` when asked, so that ``functional_call`` reaches the auxiliary head."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, extras: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        return run_network(self.model, x, extras)


def segment_batched(clusterer: S3Clusterer, images: list[np.ndarray], seeds: list[int]) -> list[ClusterResult]:
    """Cluster ``images`` (each ``(H, W, 3)`` uint8, all the same size) with one seed each.

    Returns one :class:`ClusterResult` per image, in order.
    """
    if len(images) != len(seeds):
        raise ValueError(f"segment_batch needs one seed per image, got {len(images)} images and {len(seeds)} seeds")
    if len({im.shape for im in images}) > 1:
        raise ValueError("segment_batch needs images of one size (the runner resizes them to the working size)")
    models = [clusterer.build(seed) for seed in seeds]  # the same initialisation as segment()
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    base = _WithExtras(copy.deepcopy(models[0]).to("meta"))
    params, buffers = stack_module_state(models)
    xs = torch.stack([clusterer.image_tensor(im) for im in images])  # (B, 1, 3, H, W)

    def one(p: Tensors, b: Tensors, x: torch.Tensor, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        state = {f"model.{k}": v for k, v in {**p, **b}.items()}
        return clusterer.objective(lambda inp, extras: functional_call(base, state, (inp, extras)), x, theta)

    batched = vmap(one, randomness="error")
    with warnings.catch_warnings():  # affine_grid has no batching rule yet: vmap loops over it, and says so
        warnings.filterwarnings("ignore", message="There is a performance drop")
        return _optimise(clusterer, batched, params, buffers, xs, generators)


def _optimise(
    clusterer: S3Clusterer,
    batched: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    params: Tensors,
    buffers: Tensors,
    xs: torch.Tensor,
    generators: list[torch.Generator],
) -> list[ClusterResult]:
    """Iterate until every image has met its stopping rule; finished images leave the batch."""
    cfg = clusterer.config
    optimiser = clusterer.optimiser(list(params.items()))
    active = list(range(len(generators)))  # images still optimised, in the order of the stacked parameters
    histories: list[list[int]] = [[] for _ in generators]
    results: list[ClusterResult | None] = [None] * len(generators)
    for iteration in range(1, cfg.max_iter + 1):
        thetas = torch.stack([random_affine(generators[i], cfg) for i in active]).to(clusterer.device)
        losses, labels = batched(params, buffers, xs, thetas)
        optimiser.zero_grad(set_to_none=True)
        losses.sum().backward()
        optimiser.step()
        keep = []
        for row, i in enumerate(active):
            histories[i].append(count_labels(labels[row]))
            if clusterer.stop(iteration, histories[i][-1]):
                results[i] = ClusterResult(relabel(labels[row, 0].cpu().numpy()), len(histories[i]), histories[i])
            else:
                keep.append(row)
        if len(keep) < len(active):
            if not keep:
                break
            active = [active[row] for row in keep]
            params, buffers, xs, optimiser = _drop(params, buffers, xs, optimiser, keep, clusterer)
    return [r for r in results if r is not None]


def _drop(
    params: Tensors,
    buffers: Tensors,
    xs: torch.Tensor,
    optimiser: torch.optim.SGD,
    keep: list[int],
    clusterer: S3Clusterer,
) -> tuple[Tensors, Tensors, torch.Tensor, torch.optim.SGD]:
    """The batch without the finished images: rows ``keep`` of every parameter, buffer and momentum buffer."""
    index = torch.tensor(keep, device=xs.device)
    momentum = {name: optimiser.state.get(p, {}).get("momentum_buffer") for name, p in params.items()}
    kept = {name: p.detach()[index].requires_grad_() for name, p in params.items()}
    fresh = clusterer.optimiser(list(kept.items()))
    for name, p in kept.items():
        if momentum[name] is not None:
            fresh.state[p]["momentum_buffer"] = momentum[name][index]
    return kept, {name: b[index] for name, b in buffers.items()}, xs[index], fresh
