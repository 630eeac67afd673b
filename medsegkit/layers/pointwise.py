"""1x1 convolution as a matrix product, which ``torch.func.vmap`` batches well.

Under ``vmap`` with a different weight per sample (batched clustering,
:meth:`medsegkit.lesion.clustering.s3.S3Clusterer.segment_batch`),
``F.conv2d`` becomes a grouped convolution that oneDNN runs about 8x slower on CPU than the same
convolutions one by one (forward and backward, 32 channels, 128x128, 4 images), while the matrix
product becomes one batched matrix product. Alone, both take the same time.
"""

from __future__ import annotations

import torch
from torch import nn


class PointwiseConv2d(nn.Conv2d):
    """A 1x1 ``nn.Conv2d`` (same parameters, initialisation and state dict) computed as ``W·x + b``.

    Shape: ``(B, C_in, H, W)`` -> ``(B, C_out, H, W)``.
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        weight = self.weight[:, :, 0, 0]
        if not x.is_contiguous():  # channels-last: einsum multiplies along the channel axis in place
            y = torch.einsum("bchw,oc->bohw", x, weight)
            return y if self.bias is None else y + self.bias.view(1, -1, 1, 1)
        # one (C_out, C_in) x (C_in, H·W) product per image, the weight expanded (not copied) over the
        # batch; torch.einsum and torch.matmul fold the batch into one product and copy x to do so
        # (about 2x slower at 2x64x256x256, forward and backward)
        weight = weight.expand(b, -1, -1)
        if self.bias is None:
            return torch.bmm(weight, x.view(b, c, h * w)).view(b, -1, h, w)
        return torch.baddbmm(self.bias.view(1, -1, 1), weight, x.view(b, c, h * w)).view(b, -1, h, w)
