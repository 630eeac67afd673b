"""Squeeze-and-excitation as a medsegkit attention module (drop-in for I-LKA)."""

from __future__ import annotations

from timm.layers import SEModule
from torch import nn


class SqueezeExcite(SEModule):
    """Channel attention: global average pool, 1x1 reduce (ratio 1/4), ReLU, 1x1 expand, sigmoid gate.

    Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, rd_ratio=0.25, act_layer=nn.ReLU)
