"""Joint image/label augmentation for training segmenters (torchvision.transforms.v2).

The recipe of the DPL/CPR source training: random scale and crop, flips, rotation, elastic
deformation, Gaussian noise, gamma, random erasing. Geometric transforms move image and label map
together (the label map is a ``tv_tensors.Mask``, resampled with nearest neighbour); photometric
ones touch the image only.
"""

from __future__ import annotations

import zlib

import torch
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2


class RandomGamma(nn.Module):
    """``x ** γ`` with γ drawn uniformly from ``gamma`` (image in [0, 1]); masks pass through."""

    def __init__(self, gamma: tuple[float, float] = (0.7, 1.5), p: float = 0.5) -> None:
        super().__init__()
        self.gamma, self.p = gamma, p

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if torch.rand(()) >= self.p:
            return image
        g = self.gamma[0] + (self.gamma[1] - self.gamma[0]) * float(torch.rand(()))
        return image.clamp(0, 1) ** g


def train_transform(size: int) -> tuple[v2.Transform, nn.Module]:
    """(geometric transform for image + mask, photometric transform for the image) at ``size`` x ``size``."""
    geometric = v2.Compose(
        [
            v2.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.RandomApply([v2.RandomRotation(20)], p=0.5),
            v2.RandomApply([v2.ElasticTransform(alpha=30.0, sigma=6.0)], p=0.2),
        ]
    )
    photometric = nn.Sequential(
        RandomGamma(),
        v2.RandomApply([v2.GaussianNoise(sigma=0.03, clip=True)], p=0.3),
        v2.RandomErasing(p=0.3, scale=(0.01, 0.05), value=0),
    )
    return geometric, photometric


def augment(image: torch.Tensor, labels: torch.Tensor, size: int, seed: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment one ``(3, H, W)`` float image in [0, 1] and its ``(H, W)`` integer label map to ``size``.

    With ``seed`` the draw depends on it alone (the global RNG is left as it was), so a sample is
    augmented the same way whichever process or batch position it lands in.
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return augment(image, labels, size)
    geometric, photometric = train_transform(size)
    img, mask = geometric(tv_tensors.Image(image), tv_tensors.Mask(labels))
    return photometric(img.as_subclass(torch.Tensor)), mask.as_subclass(torch.Tensor)


def sample_seed(seed: int, epoch: int, case_id: str) -> int:
    """Augmentation seed of one training sample in one epoch."""
    return (seed * 1_000_003 + epoch * 7919 + zlib.crc32(case_id.encode())) % 2**63
