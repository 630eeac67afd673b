"""A small learnable spatial transformer (Jaderberg et al., NeurIPS 2015) for the s3-stn variant."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SpatialTransformer(nn.Module):
    """Predicts a 2x3 affine matrix from the input: conv–pool–ReLU twice, adaptive average pool,
    Linear–ReLU–Linear to 6 parameters, initialised to the identity.

    Args:
        in_channels: channels of the input it looks at.
        hidden: channels of the localisation convolutions.

    Shape:
        ``(B, C, H, W)`` -> theta ``(B, 2, 3)``.
    """

    def __init__(self, in_channels: int = 3, hidden: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, hidden, 7, padding=3),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.Conv2d(hidden, hidden, 5, padding=2),
            nn.MaxPool2d(2),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.regressor = nn.Sequential(nn.Linear(hidden * 16, 32), nn.ReLU(), nn.Linear(32, 6))
        nn.init.zeros_(self.regressor[-1].weight)
        with torch.no_grad():
            self.regressor[-1].bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.regressor(self.features(x).flatten(1)).view(-1, 2, 3)


def warp(x: torch.Tensor, theta: torch.Tensor, mode: str = "bilinear") -> torch.Tensor:
    """Resample ``x`` ``(B, C, H, W)`` with the affine ``theta`` ``(B, 2, 3)`` (output -> input coordinates)."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=mode, padding_mode="border", align_corners=False)


def invert_affine(theta: torch.Tensor) -> torch.Tensor:
    """Inverse of a batch of 2x3 affine matrices ``(B, 2, 3)``."""
    a, t = theta[:, :, :2], theta[:, :, 2:]
    a_inv = torch.linalg.inv(a)
    return torch.cat([a_inv, -a_inv @ t], dim=2)
