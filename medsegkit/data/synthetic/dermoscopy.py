"""Procedural dermoscopy: skin texture, vignetting, hairs and irregular multi-tone lesions."""

from __future__ import annotations

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
from medsegkit.data.tasks import LESION


def lesion_shape(rng: np.random.Generator, size: int) -> tuple[np.ndarray, dict]:
    """An irregular, roughly elliptical lesion: a Fourier-perturbed radius plus a noisy border."""
    rows, cols = grid(size)
    cr = size * (0.5 + rng.uniform(-0.1, 0.1))
    cc = size * (0.5 + rng.uniform(-0.1, 0.1))
    r0 = size * rng.uniform(0.14, 0.3)
    aspect = rng.uniform(0.65, 1.0)
    tilt = rng.uniform(0, np.pi)
    dr, dc = rows - cr, cols - cc
    u = dr * np.cos(tilt) + dc * np.sin(tilt)
    v = (-dr * np.sin(tilt) + dc * np.cos(tilt)) / aspect
    rho, theta = np.hypot(u, v), np.arctan2(v, u)
    radius = np.ones_like(theta)
    for k in range(2, 8):
        radius += rng.uniform(0, 0.16) / np.sqrt(k) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    ragged = 0.06 * smooth_noise(rng, (size, size), size / 40)
    inside = rho / (r0 * radius) + ragged
    return inside, {"centre": [float(cr), float(cc)], "radius": float(r0)}


class SyntheticDermoscopy(SyntheticReader):
    """Seeded dermoscopy-like images with an exact lesion mask (0 skin, 1 lesion)."""

    task = LESION
    layout = "generated: no source folder"
    default_name = "synthetic-dermoscopy"
    Options = SyntheticOptions
    prefix = "derm"

    def generate(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray, dict]:
        rows, cols = grid(size)
        skin_tone = rng.uniform([195, 140, 110], [240, 190, 165])
        gradient = (np.cos(rng.uniform(0, 2 * np.pi)) * rows + np.sin(rng.uniform(0, 2 * np.pi)) * cols) / size - 0.5
        illumination = 1 + 0.07 * smooth_noise(rng, (size, size), size / 5) + rng.uniform(0.05, 0.2) * gradient
        pores = 5 * smooth_noise(rng, (size, size), max(size / 200, 0.7)) + 4 * smooth_noise(
            rng, (size, size), size / 40
        )
        skin = skin_tone[None, None, :] * illumination[..., None] + pores[..., None]

        inside, meta = lesion_shape(rng, size)
        mask = inside < 1.0
        brown = rng.uniform([165, 100, 70], [205, 140, 110])
        dark = brown * rng.uniform(0.25, 0.5)
        light = brown * rng.uniform(0.7, 0.95)
        depth = np.clip(1.0 - inside, 0, 1)
        tone = np.clip(0.7 * depth + 0.3 * smooth_noise(rng, (size, size), size / 25) + rng.uniform(-0.1, 0.3), 0, 1)
        lesion = light[None, None, :] * (1 - tone[..., None]) + dark[None, None, :] * tone[..., None]
        if rng.random() < 0.35:
            veil = np.clip(smooth_noise(rng, (size, size), size / 12) - 0.6, 0, 1) * depth
            lesion = lesion * (1 - 0.6 * veil[..., None]) + np.array([110, 120, 150]) * 0.6 * veil[..., None]
        globules = np.zeros((size, size))
        for _ in range(rng.integers(0, 25)):
            r, c = rng.uniform(0, size, 2)
            if mask[int(r), int(c)]:
                draw_curve(globules, np.array([[r, c]]), np.array([rng.uniform(1.0, 3.5) * size / 256]))
        lesion *= (1 - 0.45 * globules)[..., None]

        softness = rng.uniform(size / 260, size / 70)
        alpha = ndimage.gaussian_filter(mask.astype(np.float64), softness)
        image = skin * (1 - alpha[..., None]) + lesion * alpha[..., None]

        hair = np.zeros((size, size))
        n_hairs = int(rng.integers(0, 9))
        for _ in range(n_hairs):
            start = rng.uniform(-0.1, 1.1, 2) * size
            steps = int(size * rng.uniform(0.4, 1.2))
            path = random_walk(rng, tuple(start), rng.uniform(0, 2 * np.pi), steps, 1.0, 0.02)
            draw_curve(hair, path, np.full(steps, rng.uniform(0.8, 2.0) * size / 256))
        hair_colour = rng.uniform([20, 12, 8], [70, 50, 40])
        image = image * (1 - 0.85 * hair[..., None]) + hair_colour * 0.85 * hair[..., None]

        radius = np.hypot(rows - size / 2, cols - size / 2) / (size / 2)
        start = rng.uniform(0.85, 1.25)
        vignette = 1 - rng.uniform(0.3, 0.95) * np.clip((radius - start) / 0.35, 0, 1) ** 1.5
        image = image * vignette[..., None] + rng.normal(0, rng.uniform(1.5, 4), image.shape)
        meta.update({"hairs": n_hairs, "lesion_fraction": float(mask.mean())})
        return to_uint8(image), mask.astype(np.uint8), meta
