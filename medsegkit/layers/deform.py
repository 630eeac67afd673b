"""Modulated deformable convolution (DCNv2) with offsets and modulation predicted from the features."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn


def deform_conv2d_sampled(
    x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, mask: torch.Tensor, bias: torch.Tensor | None = None
) -> torch.Tensor:
    """Modulated deformable 3x3-style convolution, stride 1, "same" padding, computed with ``grid_sample``.

    The same operator as ``torchvision.ops.deform_conv2d(x, offset, weight, bias, padding=k//2, mask=mask)``
    (bilinear sampling, zeros outside the image), expressed as k² vectorised bilinear gathers and
    one matrix product, which is several times faster on CPU.

    Args:
        x: ``(B, C, H, W)``.
        offset: ``(B, 2·k², H, W)``, per tap (dy, dx) in pixels, torchvision's layout.
        weight: ``(C_out, C, k, k)``.
        mask: ``(B, k², H, W)`` modulation.
        bias: ``(C_out,)`` or None.

    Returns:
        ``(B, C_out, H, W)``.
    """
    b, c, h, w = x.shape
    c_out, _, kh, kw = weight.shape
    taps = kh * kw
    ys = torch.arange(h, dtype=x.dtype, device=x.device).view(1, h, 1)
    xs = torch.arange(w, dtype=x.dtype, device=x.device).view(1, 1, w)
    off = offset.view(b, taps, 2, h, w)
    columns = []
    for t in range(taps):
        ky, kx = divmod(t, kw)
        py = ys + (ky - kh // 2) + off[:, t, 0]
        px = xs + (kx - kw // 2) + off[:, t, 1]
        grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1)
        sampled = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        columns.append(sampled * mask[:, t : t + 1])
    cols = torch.stack(columns, dim=2)  # (B, C, k², H, W)
    out = torch.einsum("bcthw,oct->bohw", cols, weight.reshape(c_out, c, taps))
    return out if bias is None else out + bias.view(1, -1, 1, 1)


class DeformConv2d(nn.Module):
    """3x3 modulated deformable convolution whose offsets and modulation come from a 3x3 conv of the input,
    so it works at any image size (the public S3-Net code learns a fixed per-pixel offset tensor instead).

    Offsets start at zero and the modulation at 0.5, so the layer starts as a plain 3x3 convolution
    scaled by 0.5.

    Args:
        in_channels, out_channels: channels.
        kernel_size: odd kernel side (3).
        impl: ``"sampled"`` (grid_sample, fast on CPU) or ``"torchvision"`` (``torchvision.ops.deform_conv2d``).

    Shape:
        ``(B, C_in, H, W)`` -> ``(B, C_out, H, W)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        impl: Literal["sampled", "torchvision"] = "sampled",
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError(f"DeformConv2d supports odd kernel sizes, got {kernel_size}")
        if impl not in ("sampled", "torchvision"):
            raise ValueError(f"DeformConv2d impl must be 'sampled' or 'torchvision', got {impl!r}")
        self.kernel_size = kernel_size
        self.impl = impl
        taps = kernel_size * kernel_size
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.kaiming_uniform_(self.weight, a=5**0.5)
        self.offset = nn.Conv2d(in_channels, 3 * taps, kernel_size, padding=kernel_size // 2)
        nn.init.zeros_(self.offset.weight)
        nn.init.zeros_(self.offset.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        taps = self.kernel_size**2
        raw = self.offset(x)
        offset, mask = raw[:, : 2 * taps], torch.sigmoid(raw[:, 2 * taps :])
        if self.impl == "torchvision":
            from torchvision.ops import deform_conv2d

            return deform_conv2d(x, offset, self.weight, self.bias, padding=self.kernel_size // 2, mask=mask)
        return deform_conv2d_sampled(x, offset, self.weight, mask, self.bias)
