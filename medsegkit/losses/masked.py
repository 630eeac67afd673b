"""Masked binary cross-entropy for training on denoised pseudo-labels (DPL, CPR)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MaskedBCELoss(nn.Module):
    """``Σ w · (1 − p_t)^γ · BCE(logits, target) / Σ w``: only pixels kept by denoising (w = 1) count;
    ``γ > 0`` adds the focal factor (Lin et al., ICCV 2017) that down-weights easy pixels.

    Shape: logits, target and weight ``(B, S, H, W)`` -> scalar; without ``weight`` every pixel counts.
    """

    def __init__(self, gamma: float = 0.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"focal gamma must be >= 0, got {gamma}")
        self.gamma = gamma

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
        if self.gamma:
            p = torch.sigmoid(logits)
            p_t = p * target + (1 - p) * (1 - target)
            loss = loss * (1 - p_t) ** self.gamma
        return masked_mean(loss, weight)


def masked_mean(loss: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """``Σ w · loss / Σ w`` (every element when ``weight`` is None); 0 when nothing is kept."""
    if weight is None:
        return loss.mean()
    return (loss * weight).sum() / weight.sum().clamp_min(1)


def focal_bce(gamma: float = 2.0) -> MaskedBCELoss:
    """Masked BCE with the focal factor, γ = 2."""
    return MaskedBCELoss(gamma=gamma)
