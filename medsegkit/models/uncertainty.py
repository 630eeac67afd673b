"""Monte-Carlo dropout: a trained network's own uncertainty, for any task (fundus pseudo-labels and
predictions, lesion predictions)."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def mc_dropout(
    model: nn.Module, x: torch.Tensor, passes: int, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Monte-Carlo dropout: ``passes`` stochastic forward passes with dropout on and BatchNorm frozen.

    Returns the mean sigmoid probability over passes and the standard deviation over passes of
    ``sigmoid(logits / temperature)``, both ``(B, S, H, W)``. DPL's reference code measures the
    uncertainty at temperature 2, which softens the probabilities and shrinks their spread, so
    fewer boundary pixels count as unreliable; temperature 1 is the plain standard deviation.

    A model with ``encode``/``decode`` and an ``encoder`` that holds no dropout (:class:`DeepLabV3Plus`) is
    encoded once and decoded ``passes`` times: the same passes (the dropout masks are drawn in the same order)
    without recomputing the deterministic encoder each time.
    """
    if passes < 1:
        raise ValueError(f"MC dropout needs at least 1 pass, got {passes}")
    if temperature <= 0:
        raise ValueError(f"MC dropout temperature must be positive, got {temperature}")
    was_training = model.training
    model.eval()
    for module in model.modules():
        if isinstance(module, nn.modules.dropout._DropoutNd):
            module.train()
    try:
        if _splits(model):
            features = model.encode(x)
            logits = torch.stack([model.decode(features) for _ in range(passes)])
        else:
            logits = torch.stack([model(x) for _ in range(passes)])
    finally:
        model.train(was_training)
    return torch.sigmoid(logits).mean(dim=0), torch.sigmoid(logits / temperature).std(dim=0, unbiased=False)


def _splits(model: nn.Module) -> bool:
    """Can ``model`` be encoded once for all passes: ``encode``, ``decode`` and an ``encoder`` without dropout?"""
    encoder = getattr(model, "encoder", None)
    return (
        isinstance(encoder, nn.Module)
        and callable(getattr(model, "encode", None))
        and callable(getattr(model, "decode", None))
        and not any(isinstance(m, nn.modules.dropout._DropoutNd) for m in encoder.modules())
    )


__all__ = ["mc_dropout"]
