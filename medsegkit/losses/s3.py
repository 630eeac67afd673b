"""The S3-Net objectives (Karimijafarbigloo et al., ICCVW 2023) and the boundary loss of the s3-stn variant.

All take soft or raw cluster predictions ``(B, K, H, W)`` and return a scalar; all are differentiable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from medsegkit.layers.stn import warp


class SelfLabelLoss(nn.Module):
    """Cross-entropy of the logits against their own argmax (the pseudo-label is not differentiated).

    Shape: logits ``(B, K, H, W)``, optional ``labels`` ``(B, H, W)``, their argmax if the caller
    already has it -> scalar.
    """

    def forward(self, logits: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if labels is None:
            labels = self_labels(logits)
        return F.cross_entropy(logits, labels)


def self_labels(logits: torch.Tensor) -> torch.Tensor:
    """The argmax over clusters ``(B, H, W)`` of logits ``(B, K, H, W)``, not differentiated.

    ``max(dim=1).indices`` is faster than ``argmax(dim=1)`` on CPU for this layout.
    """
    return logits.detach().max(dim=1).indices


class AffineConsistencyLoss(nn.Module):
    """Equivariance to a random affine T: ``‖f(T(x)) − T(f(x))‖₁`` over pixels that T maps inside the image.

    ``T(f(x))`` is ``warp(p_x, theta)``: the same sampling that produced ``T(x)`` from ``x``, applied
    to the soft prediction. The loss is 0 for a predictor that commutes with T.

    Shape: ``p_x``, ``p_tx`` ``(B, K, H, W)`` soft predictions on x and on T(x); theta ``(B, 2, 3)`` -> scalar.
    """

    def forward(self, p_x: torch.Tensor, p_tx: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
        target = warp(p_x, theta)
        ones = torch.ones_like(p_x[:, :1])
        grid = F.affine_grid(theta, list(ones.shape), align_corners=False)
        valid = F.grid_sample(ones, grid, mode="bilinear", padding_mode="zeros", align_corners=False) > 0.999
        diff = (p_tx - target).abs().sum(dim=1, keepdim=True)
        return (diff * valid).sum() / valid.sum().clamp_min(1)


class SpatialConsistencyLoss(nn.Module):
    """Edge-aware total variation of the soft prediction: neighbouring pixels should share a cluster
    unless the image has an edge between them.

    ``L = mean_i w_i · ‖p_i − p_{i+down}‖₁ + mean_i w_i · ‖p_i − p_{i+right}‖₁`` with
    ``w = exp(−‖I_i − I_j‖² / 2σ²)`` (``w = 1`` when ``sigma`` is None or no image is given).

    Shape: p ``(B, K, H, W)``, image ``(B, 3, H, W)`` -> scalar.
    """

    def __init__(self, sigma: float | None = 0.1) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, p: torch.Tensor, image: torch.Tensor | None = None) -> torch.Tensor:
        dy = (p[:, :, 1:] - p[:, :, :-1]).abs().sum(dim=1)
        dx = (p[:, :, :, 1:] - p[:, :, :, :-1]).abs().sum(dim=1)
        if image is not None and self.sigma:
            scale = 2 * self.sigma**2
            dy = dy * torch.exp(-((image[:, :, 1:] - image[:, :, :-1]) ** 2).sum(dim=1) / scale)
            dx = dx * torch.exp(-((image[:, :, :, 1:] - image[:, :, :, :-1]) ** 2).sum(dim=1) / scale)
        return dy.mean() + dx.mean()


class BoundaryLoss(nn.Module):
    """``‖up(down(Y)) − Y‖₁``: a soft prediction should survive average-pooling by ``factor`` and
    bilinear upsampling, which penalises ragged boundaries and speckle.

    Shape: p ``(B, K, H, W)`` -> scalar.
    """

    def __init__(self, factor: int = 16) -> None:
        super().__init__()
        if factor < 2:
            raise ValueError(f"BoundaryLoss factor must be at least 2, got {factor}")
        self.factor = factor

    def forward(self, p: torch.Tensor) -> torch.Tensor:
        h, w = p.shape[-2:]
        down = F.adaptive_avg_pool2d(p, (max(h // self.factor, 1), max(w // self.factor, 1)))
        up = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
        return (up - p).abs().sum(dim=1).mean()
