"""Depthwise "same" convolution with a backward pass that is fast on CPU.

PyTorch's CPU backward of a depthwise convolution, dilated ones above all, is several times slower
than its forward (about 28 ms against 5 ms for I-LKA's 7x7 dilation-3 branch at 32x128x128,
``bench/s3_speed.py``). Both gradients are themselves depthwise convolutions, which the forward
kernels compute quickly:

* ``∂L/∂x = conv(∂L/∂y, flip(w))`` with the same dilation and padding (stride 1, symmetric padding);
* ``∂L/∂w[c, i, j] = Σ_{b,y,x} ∂L/∂y[b, c, y, x] · x_pad[b, c, y + d·i, x + d·j]``: a depthwise
  convolution of the padded input with ``∂L/∂y`` as its kernel, at stride ``d``.

The numbers are those of ``F.conv2d`` up to the order of summation (float64 gradcheck in
``tests/layers/test_depthwise.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _padding(weight: torch.Tensor, dilation: int) -> int:
    """The "same" padding of a ``(C, 1, k, k)`` kernel at ``dilation``."""
    return dilation * (weight.shape[-1] - 1) // 2


class _DepthwiseConv2d(torch.autograd.Function):
    generate_vmap_rule = True  # forward and backward are plain torch ops, so torch.func.vmap can batch them

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, dilation: int) -> torch.Tensor:
        return F.conv2d(x, weight, bias, padding=_padding(weight, dilation), dilation=dilation, groups=x.shape[1])

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        x, weight, bias, dilation = inputs
        ctx.save_for_backward(x, weight)
        ctx.dilation, ctx.padding, ctx.has_bias = dilation, _padding(weight, dilation), bias is not None

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        d, p = ctx.dilation, ctx.padding
        b, c, h, w = x.shape
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = F.conv2d(grad, weight.flip(-1, -2), padding=p, dilation=d, groups=c)
        if ctx.needs_input_grad[1]:
            padded = F.pad(x, (p, p, p, p)).contiguous().reshape(1, b * c, h + 2 * p, w + 2 * p)
            kernel = grad.contiguous().reshape(b * c, 1, h, w)
            grad_w = F.conv2d(padded, kernel, stride=d, groups=b * c).reshape(b, c, *weight.shape[-2:]).sum(0)
            grad_w = grad_w.unsqueeze(1)
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_w, grad_b, None


def depthwise_conv2d(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, dilation: int = 1
) -> torch.Tensor:
    """``F.conv2d(x, weight, bias, padding=dilation·(k−1)/2, dilation=dilation, groups=C)`` with the fast
    backward on CPU (plain ``F.conv2d`` on other devices).

    Args:
        x: ``(B, C, H, W)``.
        weight: ``(C, 1, k, k)``, ``k`` odd.
        bias: ``(C,)`` or None.
        dilation: spacing of the kernel taps.

    Returns:
        ``(B, C, H, W)``.
    """
    if weight.shape[-1] % 2 != 1 or weight.shape[-1] != weight.shape[-2] or weight.shape[1] != 1:
        raise ValueError(f"depthwise_conv2d needs a (C, 1, k, k) weight with odd k, got {tuple(weight.shape)}")
    if x.device.type != "cpu":  # the rewrite is for CPU kernels; cuDNN's own backward is fine
        return F.conv2d(x, weight, bias, padding=_padding(weight, dilation), dilation=dilation, groups=x.shape[1])
    return _DepthwiseConv2d.apply(x, weight, bias, dilation)


class DepthwiseConv2d(nn.Conv2d):
    """A depthwise, stride-1, "same" ``nn.Conv2d`` (same parameters and state dict) using :func:`depthwise_conv2d`.

    Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int = 1, bias: bool = True) -> None:
        if kernel_size % 2 != 1:
            raise ValueError(f"DepthwiseConv2d needs an odd kernel size, got {kernel_size}")
        super().__init__(
            channels,
            channels,
            kernel_size,
            padding=dilation * (kernel_size - 1) // 2,
            dilation=dilation,
            groups=channels,
            bias=bias,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return depthwise_conv2d(x, self.weight, self.bias, self.dilation[0])
