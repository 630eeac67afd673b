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
    (bilinear sampling, zeros outside the image), expressed as one bilinear sampling of all k² taps and
    one batched matrix product, which is several times faster on CPU.

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
    dev, dt = x.device, x.dtype
    # tap t = i·kw + j sits at (i − kh//2, j − kw//2), torchvision's order
    ky = (torch.arange(kh, dtype=dt, device=dev) - kh // 2).repeat_interleave(kw).view(1, taps, 1, 1)
    kx = (torch.arange(kw, dtype=dt, device=dev) - kw // 2).repeat(kh).view(1, taps, 1, 1)
    off = offset.view(b, taps, 2, h, w)
    py = torch.arange(h, dtype=dt, device=dev).view(1, 1, h, 1) + ky + off[:, :, 0]
    px = torch.arange(w, dtype=dt, device=dev).view(1, 1, 1, w) + kx + off[:, :, 1]
    # all taps in one sampling call: the grid stacks them along the height, so the columns come out
    # as (B, C, k²·H, W) = (B, C·k², H·W) without a stack or a permuting copy
    grid = torch.stack(((2 * px + 1) / w - 1, (2 * py + 1) / h - 1), dim=-1).view(b, taps * h, w, 2)
    cols = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    cols = (cols.view(b, c, taps, h * w) * mask.view(b, 1, taps, h * w)).view(b, c * taps, h * w)
    # bmm with the weight expanded over the batch: torch.matmul would fold the batch into one
    # matrix product and copy the columns to do so
    weight = weight.reshape(c_out, c * taps).expand(b, -1, -1)
    if bias is None:
        return torch.bmm(weight, cols).view(b, c_out, h, w)
    return torch.baddbmm(bias.view(1, -1, 1), weight, cols).view(b, c_out, h, w)


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
