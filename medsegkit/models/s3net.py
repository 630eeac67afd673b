"""S3-Net (Karimijafarbigloo et al., "Self-supervised Semantic Segmentation: Consistency over
Transformation", ICCV 2023 workshops): a small per-image clustering network."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from medsegkit.layers.deform import DeformConv2d
from medsegkit.layers.pointwise import PointwiseConv2d
from medsegkit.layers.stn import SpatialTransformer, invert_affine, warp


class AttentionBlock(nn.Module):
    """1x1 conv, GELU, attention (I-LKA by default), 1x1 conv, residual, BatchNorm.

    Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, channels: int, attention: nn.Module) -> None:
        super().__init__()
        self.proj_in = PointwiseConv2d(channels, channels)
        self.act = nn.GELU()
        self.attention = attention
        self.proj_out = PointwiseConv2d(channels, channels)
        self.norm = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.proj_out(self.attention(self.act(self.proj_in(x)))))


class S3Net(nn.Module):
    """Stem (3x3 conv + BN to C channels), N attention blocks, an auxiliary 1x1 head, a deformable
    convolution block and a 1x1 conv + BN to K cluster logits.

    Args:
        in_channels: image channels (3).
        channels: C, feature channels (64 in the paper).
        num_clusters: K, initial number of clusters (default C, as in the paper).
        num_blocks: N attention blocks (2).
        attention: name of a ``medsegkit.attention`` component for the blocks (``ilka``).
        stem_stride: 1 (the paper), or 2 to compute features at half resolution; logits are
            upsampled (bilinear) back to the input size.
        stn: put a learnable spatial transformer in front: the image is warped by theta, and the
            logits are warped back by its inverse, so outputs stay in image coordinates.
        deform_impl: ``sampled`` or ``torchvision`` (the same operator; see ``DeformConv2d``).

    Shape:
        ``(B, 3, H, W)`` -> logits ``(B, K, H, W)``. :meth:`forward_with_extras` also returns the
        auxiliary head's scores ``aux`` ``(B, K, h, w)`` and the spatial transformer's ``theta``
        ``(B, 2, 3)`` (absent without one), the models contract's path for extra outputs.
    """

    def __init__(
        self,
        in_channels: int = 3,
        channels: int = 64,
        num_clusters: int | None = None,
        num_blocks: int = 2,
        attention: str = "ilka",
        stem_stride: Literal[1, 2] = 1,
        stn: bool = False,
        deform_impl: Literal["sampled", "torchvision"] = "sampled",
    ) -> None:
        super().__init__()
        from medsegkit.models import create_attention

        if stem_stride not in (1, 2):
            raise ValueError(f"S3Net supports stem_stride 1 or 2, got {stem_stride}")
        if channels < 2 or num_blocks < 0:
            raise ValueError(f"S3Net needs channels >= 2 and num_blocks >= 0, got {channels} and {num_blocks}")
        k = num_clusters or channels
        self.stn = SpatialTransformer(in_channels) if stn else None
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=stem_stride, padding=1), nn.BatchNorm2d(channels)
        )
        self.blocks = nn.Sequential(
            *(AttentionBlock(channels, create_attention(attention, channels)) for _ in range(num_blocks))
        )
        self.aux_head = nn.Sequential(PointwiseConv2d(channels, k), nn.BatchNorm2d(k))
        self.deform = nn.Sequential(DeformConv2d(channels, channels, 3, impl=deform_impl), nn.BatchNorm2d(channels))
        self.head = nn.Sequential(PointwiseConv2d(channels, k), nn.BatchNorm2d(k))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.stem(x))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.deform(features))

    def _run(self, x: torch.Tensor, extras: dict[str, torch.Tensor] | None) -> torch.Tensor:
        theta = None
        if self.stn is not None:
            theta = self.stn(x)
            x = warp(x, theta)
        features = self.forward_features(x)
        if extras is not None:
            extras["aux"] = self.aux_head(features)
            if theta is not None:
                extras["theta"] = theta
        logits = self.forward_head(features)
        if logits.shape[-2:] != x.shape[-2:]:
            logits = F.interpolate(logits, size=x.shape[-2:], mode="bilinear", align_corners=False)
        if theta is not None:
            logits = warp(logits, invert_affine(theta))
        return logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._run(x, None)

    def forward_with_extras(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Logits and ``{"aux": ..., "theta": ...}`` (``theta`` only with a spatial transformer)."""
        extras: dict[str, torch.Tensor] = {}
        return self._run(x, extras), extras


def s3net(**kwargs) -> S3Net:
    """S3-Net as in the paper: C = K = 64, two I-LKA blocks, no spatial transformer."""
    return S3Net(**{"stn": False, **kwargs})


def s3net_stn(**kwargs) -> S3Net:
    """S3-Net with a learnable spatial transformer in front (the s3-stn variant)."""
    return S3Net(**{**kwargs, "stn": True})
