"""Procedural disc-centred fundus ROIs with two acquisition styles for domain-shift experiments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import ndimage

from medsegkit.data.synthetic.common import (
    SyntheticOptions,
    SyntheticReader,
    draw_curve,
    grid,
    random_walk,
    smooth_noise,
    to_uint8,
)
from medsegkit.data.tasks import FUNDUS


@dataclass(frozen=True)
class Style:
    """How one imaging site renders the same anatomy."""

    retina: tuple[float, float, float]
    disc: tuple[float, float, float]
    cup: tuple[float, float, float]
    vessel: tuple[float, float, float]
    contrast: float
    gamma: float
    blur: float
    illumination: float


STYLES: dict[str, Style] = {
    # a: warm, sharp, even light (Drishti-GS-like)
    "a": Style((185, 85, 35), (235, 165, 95), (250, 225, 170), (115, 25, 10), 1.0, 1.0, 0.4, 0.12),
    # b: cooler, paler, softer, unevenly lit (RIM-ONE/REFUGE-like)
    "b": Style((120, 75, 70), (205, 170, 150), (235, 220, 205), (85, 35, 40), 0.75, 1.25, 1.6, 0.35),
}


@dataclass(frozen=True)
class FundusOptions(SyntheticOptions):
    style: Literal["a", "b"] = "a"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {self.style!r}")


class SyntheticFundus(SyntheticReader):
    """Seeded disc-centred fundus ROIs with exact labels (0 background, 1 disc rim, 2 cup)."""

    task = FUNDUS
    layout = "generated: no source folder"
    default_name = "synthetic-fundus"
    Options = FundusOptions
    prefix = "fundus"

    def _stream(self) -> list[int]:
        return [self.options.seed, ord(self.options.style)]

    def suggested_name(self, src: object) -> str:
        return f"synthetic-fundus-{self.options.style}"

    def generate(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, dict]:
        style = STYLES[self.options.style]
        rows, cols = grid(size)
        cr, cc = size * (0.5 + rng.uniform(-0.06, 0.06, 2))
        disc_r = size * rng.uniform(0.17, 0.25)
        disc_aspect = rng.uniform(0.85, 1.0)
        vcdr = rng.uniform(0.3, 0.75)
        cup_r = disc_r * vcdr
        cup_cr = cr + rng.uniform(-0.08, 0.08) * disc_r
        cup_cc = cc + rng.uniform(0.0, 0.15) * disc_r * rng.choice([-1, 1])
        wobble = 0.035 * smooth_noise(rng, (size, size), size / 30)
        disc_d = np.hypot((rows - cr) / disc_r, (cols - cc) / (disc_r * disc_aspect)) + wobble
        cup_d = np.hypot((rows - cup_cr) / cup_r, (cols - cup_cc) / (cup_r * rng.uniform(0.8, 1.0))) + wobble
        disc = disc_d < 1.0
        cup = (cup_d < 1.0) & disc

        light = 1 + style.illumination * (
            0.6
            * (
                (cols / size - 0.5) * np.cos(rng.uniform(0, 2 * np.pi))
                + (rows / size - 0.5) * np.sin(rng.uniform(0, 2 * np.pi))
            )
            + 0.4 * smooth_noise(rng, (size, size), size / 4) / 2
        )
        retina = np.array(style.retina) * (1 + 0.08 * smooth_noise(rng, (size, size), size / 25))[..., None]
        disc_alpha = ndimage.gaussian_filter(disc.astype(np.float64), size / 150)
        cup_alpha = ndimage.gaussian_filter((cup_d < 1.0).astype(np.float64), size / 50) * disc_alpha
        image = retina * (1 - disc_alpha[..., None]) + np.array(style.disc) * disc_alpha[..., None]
        image = image * (1 - cup_alpha[..., None]) + np.array(style.cup) * cup_alpha[..., None]

        vessels = np.zeros((size, size))
        n_vessels = int(rng.integers(7, 13))
        for k in range(n_vessels):
            angle = 2 * np.pi * (k + rng.uniform(-0.3, 0.3)) / n_vessels
            start = (cup_cr + np.sin(angle) * cup_r * 0.9, cup_cc + np.cos(angle) * cup_r * 0.9)
            steps = int(size * rng.uniform(0.5, 0.9))
            path = random_walk(rng, start, angle, steps, 1.0, 0.03)
            width = np.linspace(rng.uniform(0.02, 0.035), 0.008, steps) * size
            draw_curve(vessels, path, width)
        image = image * (1 - 0.8 * vessels[..., None]) + np.array(style.vessel) * 0.8 * vessels[..., None]

        image = image * light[..., None]
        image = ndimage.gaussian_filter(image, (style.blur * size / 256, style.blur * size / 256, 0))
        mean = image.mean(axis=(0, 1), keepdims=True)
        image = (image - mean) * style.contrast + mean
        image = 255 * (np.clip(image, 0, 255) / 255) ** style.gamma
        image = image + rng.normal(0, 2.5, image.shape)

        labels = np.zeros((size, size), dtype=np.uint8)
        labels[disc] = 1
        labels[cup] = 2
        return to_uint8(image), labels, {"style": self.options.style, "vcdr": float(vcdr), "vessels": n_vessels}
