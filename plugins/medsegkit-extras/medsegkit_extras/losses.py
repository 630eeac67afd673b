"""Soft Dice loss for sigmoid outputs."""

from __future__ import annotations

import torch
from torch import nn


class SoftDiceLoss(nn.Module):
    """``1 − mean_c (2 Σ w·p·y + s) / (Σ w·p + Σ w·y + s)`` with ``p = sigmoid(logits)``.

    Args:
        smooth: s, keeps the ratio defined for empty structures.

    Shape: logits and target ``(B, C, H, W)``; optional weight ``(B, C, H, W)`` or ``(B, 1, H, W)`` -> scalar.
    """

    def __init__(self, smooth: float = 1.0) -> None:
        super().__init__()
        self.smooth = smooth

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        w = torch.ones_like(p) if weight is None else weight.expand_as(p)
        dims = (0, 2, 3)
        inter = (w * p * target).sum(dims)
        total = (w * p).sum(dims) + (w * target).sum(dims)
        return 1 - ((2 * inter + self.smooth) / (total + self.smooth)).mean()
