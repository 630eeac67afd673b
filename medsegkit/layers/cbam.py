"""CBAM (Woo et al., ECCV 2018): channel attention then spatial attention, from timm."""

from __future__ import annotations

from timm.layers.cbam import CbamModule


class CBAM(CbamModule):
    """timm's ``CbamModule`` with medsegkit's attention signature (channels only).

    Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, rd_ratio=1 / 16, spatial_kernel_size=7)
