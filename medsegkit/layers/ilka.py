"""Inception Large Kernel Attention (I-LKA), S3-Net (Karimijafarbigloo et al., ICCVW 2023), eq. 1-3."""

from __future__ import annotations

import torch
from torch import nn

from medsegkit.layers.depthwise import DepthwiseConv2d
from medsegkit.layers.pointwise import PointwiseConv2d


class InceptionLKA(nn.Module):
    """I-LKA: ``A = DW5x5(X)`` (eq. 1); three parallel depthwise branches on ``A`` (3x3 dilation 1,
    5x5 dilation 2, 7x7 dilation 3), concatenated and mixed by a 1x1 conv (eq. 2); the result
    gates the input, ``Y = attn ⊙ X`` (eq. 3).

    Args:
        channels: C, input and output channels.

    Shape:
        ``(B, C, H, W)`` -> ``(B, C, H, W)``.

    Example:
        >>> InceptionLKA(8)(torch.rand(1, 8, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        if channels < 1:
            raise ValueError(f"InceptionLKA needs at least 1 channel, got {channels}")
        self.conv0 = DepthwiseConv2d(channels, 5)
        self.branches = nn.ModuleList(DepthwiseConv2d(channels, k, dilation=d) for k, d in ((3, 1), (5, 2), (7, 3)))
        self.mix = PointwiseConv2d(3 * channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.conv0(x)
        attn = self.mix(torch.cat([branch(a) for branch in self.branches], dim=1))
        return x * attn
