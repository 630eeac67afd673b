"""Joint image/label augmentation for training segmenters (torchvision.transforms.v2).

Three recipes. ``reference``, the DPL/CPR source training: random scale and crop (zoom in only), flips,
rotation, elastic deformation, Gaussian noise, gamma, random erasing. ``robust`` (the default) adds
the shifts a second camera brings: an object zoom that makes the labelled object fill a share of the
crop drawn log-uniformly from ``OBJECT_AREA`` (zooming in and out, mirror padding outside the
image), brightness, contrast, saturation, hue and blur. ``keep-scale`` is ``robust``'s lighting on
``reference``'s geometry: for a network trained on the very images it will segment (self-training),
whose objects already have the scale it will meet. Geometric transforms move image and label map
together (the label map is a ``tv_tensors.Mask``, resampled with nearest neighbour); photometric
ones touch the image only.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from typing import Literal

import torch
import torch.nn.functional as F
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


Recipe = Literal["robust", "reference", "keep-scale"]
RECIPES: tuple[str, ...] = ("robust", "reference", "keep-scale")
# share of the crop the labelled object (the optic disc) fills after the robust zoom: the range the
# optic disc covers in published disc-centred ROIs (about 0.1 in REFUGE-style crops, 0.5+ in RIM-ONE)
OBJECT_AREA = (0.10, 0.60)


class ObjectZoom(nn.Module):
    """Zoom about the labelled object so that it fills a share of the crop drawn log-uniformly from ``area``,
    or, where ``shares`` are given, drawn uniformly from them (the object scales of a set of images).

    With object share ``f`` now and ``a`` drawn, the crop side is ``side · sqrt(f / a)`` (larger than the
    image when zooming out: mirror padding), centred on the object's centroid moved by up to
    ``shift`` of the crop side. An image without labelled pixels is zoomed by a factor drawn from the
    same range relative to its middle. Output ``(C, size, size)`` image, ``(size, size)`` mask.
    """

    def __init__(
        self, size: int, area: tuple[float, float] = OBJECT_AREA, shift: float = 0.1, shares: tuple[float, ...] = ()
    ) -> None:
        super().__init__()
        self.size, self.area, self.shift, self.shares = size, area, shift, shares

    def forward(self, image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, w = mask.shape[-2:]
        if self.shares:
            a = self.shares[int(torch.randint(len(self.shares), ()))]
        else:
            a = math.exp(math.log(self.area[0]) + float(torch.rand(())) * math.log(self.area[1] / self.area[0]))
        fg = mask > 0
        share = float(fg.sum()) / min(h, w) ** 2  # of a square crop of the image's shorter side
        if share > 0:
            rows, cols = torch.nonzero(fg, as_tuple=True)
            centre = (float(rows.float().mean()), float(cols.float().mean()))
        else:
            share, centre = math.sqrt(self.area[0] * self.area[1]), ((h - 1) / 2, (w - 1) / 2)
        side = min(h, w) * min(max(math.sqrt(share / a), 0.3), 1.6)
        jitter = (torch.rand(2) * 2 - 1) * self.shift * side
        top = round(centre[0] + float(jitter[0]) - side / 2)
        left = round(centre[1] + float(jitter[1]) - side / 2)
        crop = round(side)
        pad = max(0, -top, -left, top + crop - h, left + crop - w)
        pad = min(pad, h - 1, w - 1)  # mirror padding needs pad < side; clamp the window instead
        top, left = min(max(top, -pad), h + pad - crop), min(max(left, -pad), w + pad - crop)
        both = torch.cat([image, mask[None].to(image.dtype)])
        if pad:
            both = F.pad(both[None], (pad, pad, pad, pad), mode="reflect")[0]
        both = both[:, top + pad : top + pad + crop, left + pad : left + pad + crop]
        img = v2.functional.resize(both[:-1], [self.size, self.size], antialias=True)
        lab = v2.functional.resize(both[-1:], [self.size, self.size], v2.InterpolationMode.NEAREST)[0]
        return img, lab.round().to(mask.dtype)


def object_shares(labels: Iterable[torch.Tensor]) -> tuple[float, ...]:
    """The share of its square that the labelled object (label > 0) fills in each of ``labels`` (square
    ``(S, S)`` maps), as :class:`ObjectZoom` measures it, sorted: the object scales a network trained on
    these maps will meet. Maps without an object are skipped.

    Example:
        >>> a, b = torch.zeros(10, 10), torch.zeros(10, 10)
        >>> a[:2, :4], b[:5] = 1, 1
        >>> object_shares([b, torch.zeros(10, 10), a])
        (0.08, 0.5)
    """
    return tuple(sorted(s for s in (float((m > 0).double().mean()) for m in labels) if s > 0))


def train_transform(size: int, recipe: Recipe = "robust") -> tuple[v2.Transform, nn.Module]:
    """(geometric transform for image + mask, photometric transform for the image) at ``size`` x ``size``.

    For ``robust`` the object zoom (:class:`ObjectZoom`) runs before the geometric transform, in
    :func:`augment`; ``keep-scale`` has ``reference``'s geometry and ``robust``'s photometry.
    """
    if recipe not in RECIPES:
        raise ValueError(f"augmentation recipe must be one of {', '.join(RECIPES)}, got {recipe!r}")
    first = (
        v2.RandomResizedCrop(size, scale=(0.5, 1.0), ratio=(0.8, 1.25), antialias=True)
        if recipe != "robust"
        else v2.RandomApply([v2.RandomAffine(degrees=0, scale=(0.9, 1.1), shear=5)], p=0.3)
    )
    geometric = v2.Compose(
        [
            first,
            v2.RandomHorizontalFlip(),
            v2.RandomVerticalFlip(),
            v2.RandomApply([v2.RandomRotation(20)], p=0.5),
            v2.RandomApply([v2.ElasticTransform(alpha=30.0, sigma=6.0)], p=0.2),
        ]
    )
    lighting: list[nn.Module] = []
    if recipe != "reference":
        lighting = [
            v2.RandomApply(
                [v2.ColorJitter(brightness=(0.5, 2.0), contrast=(0.6, 1.6), saturation=(0.7, 1.4), hue=0.03)], p=0.8
            ),
            v2.RandomApply([v2.GaussianBlur(5, sigma=(0.1, 1.5))], p=0.25),
        ]
    photometric = nn.Sequential(
        *lighting,
        RandomGamma((0.7, 1.5) if recipe == "reference" else (0.6, 1.7)),
        v2.RandomApply([v2.GaussianNoise(sigma=0.03, clip=True)], p=0.3),
        v2.RandomErasing(p=0.3, scale=(0.01, 0.05), value=0),
    )
    return geometric, photometric


def augment(
    image: torch.Tensor,
    labels: torch.Tensor,
    size: int,
    seed: int | None = None,
    recipe: Recipe = "reference",
    shares: tuple[float, ...] = (),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Augment one ``(3, H, W)`` float image in [0, 1] and its ``(H, W)`` integer label map to ``size``.

    With ``seed`` the draw depends on it alone (the global RNG is left as it was), so a sample is
    augmented the same way whichever process or batch position it lands in. ``shares``, when given, are
    the object shares the ``robust`` object zoom draws from (:class:`ObjectZoom`).
    """
    if seed is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return augment(image, labels, size, recipe=recipe, shares=shares)
    geometric, photometric = train_transform(size, recipe)
    if recipe == "robust":
        image, labels = ObjectZoom(size, shares=shares)(image, labels)
    img, mask = geometric(tv_tensors.Image(image), tv_tensors.Mask(labels))
    return photometric(img.as_subclass(torch.Tensor)), mask.as_subclass(torch.Tensor)


def sample_seed(seed: int, epoch: int, case_id: str) -> int:
    """Augmentation seed of one training sample in one epoch."""
    return (seed * 1_000_003 + epoch * 7919 + zlib.crc32(case_id.encode())) % 2**63
