"""The building blocks of CPR (Huai et al., "Context-aware Pseudo-label Refinement for Source-Free
Domain Adaptive Fundus Image Segmentation", MICCAI 2023) and of DPL (Chen et al., MICCAI 2021).

Tensors follow one convention: ``S`` structures (channel 0 cup, 1 disc), probabilities
``(B, S, H, W)``, features ``(B, C, H, W)``, local similarities ``(B, K, H, W)`` with
``K = (2r + 1)²`` neighbours in raster order of the offsets ``(dy, dx)``, ``dy, dx ∈ [−r, r]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn


def offsets(radius: int) -> list[tuple[int, int]]:
    return [(dy, dx) for dy in range(-radius, radius + 1) for dx in range(-radius, radius + 1)]


def _shift(x: torch.Tensor, dy: int, dx: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``x`` ``(B, C, H, W)`` moved so that position i holds the value at i + (dy, dx), and a validity mask."""
    h, w = x.shape[-2:]
    padded = F.pad(x, (abs(dx), abs(dx), abs(dy), abs(dy)))
    shifted = padded[..., abs(dy) + dy : abs(dy) + dy + h, abs(dx) + dx : abs(dx) + dx + w]
    ones = F.pad(torch.ones(1, 1, h, w, device=x.device, dtype=x.dtype), (abs(dx), abs(dx), abs(dy), abs(dy)))
    valid = ones[..., abs(dy) + dy : abs(dy) + dy + h, abs(dx) + dx : abs(dx) + dx + w]
    return shifted, valid


def local_similarity(features: torch.Tensor, radius: int) -> torch.Tensor:
    """CPR's context similarity ``S_ij = exp(−mean_c |f_i − f_j|)`` for every j within ``radius`` of i.

    Shape: features ``(B, C, H, W)`` -> ``(B, K, H, W)``; neighbours outside the image get 0.
    """
    sims = []
    for dy, dx in offsets(radius):
        shifted, valid = _shift(features, dy, dx)
        sims.append(torch.exp(-(features - shifted).abs().mean(dim=1)) * valid[:, 0])
    return torch.stack(sims, dim=1)


def propagate(
    prob: torch.Tensor, similarity: torch.Tensor, radius: int, beta: float = 2.0, steps: int = 4
) -> torch.Tensor:
    """Similarity-weighted refinement: ``P ← Σ_j S_ij^β P_j / Σ_j S_ij^β``, applied ``steps`` times.

    Shape: prob ``(B, S, H, W)``, similarity ``(B, K, H, W)`` -> ``(B, S, H, W)``.
    """
    weights = similarity.clamp_min(0) ** beta
    norm = weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    for _ in range(steps):
        total = torch.zeros_like(prob)
        for k, (dy, dx) in enumerate(offsets(radius)):
            shifted, _ = _shift(prob, dy, dx)
            total = total + weights[:, k : k + 1] * shifted
        prob = total / norm
    return prob


def calibrate(refined: torch.Tensor, unrefined: torch.Tensor, threshold: float) -> torch.Tensor:
    """Calibration after refinement: a monotone rescaling of each map that keeps its pseudo-label's area.

    Propagation averages a pixel with its context. That lowers every peak (a small cup can fall below
    any fixed threshold) and softens every edge, so cutting the refined map at the same high
    ``threshold`` (0.75) moves each boundary inwards: on a shifted target this shrank the disc pseudo-
    labels by a tenth of their area, and adaptation on them shrank the disc further. Refinement should
    move pseudo-label boundaries, not their size. So each refined map is cut at the level ``t*`` above
    which exactly as many pixels lie as the unrefined map has above ``threshold``, and rescaled
    piecewise linearly so that ``t*`` maps to ``threshold`` and its maximum to the unrefined maximum:

        c(x) = x · τ / t*                                   for x ≤ t*
        c(x) = τ + (x − t*) · (max P − τ) / (max R − t*)    for x > t*

    The order of pixels is the refined one; a structure the source model did not find (no pixel above
    ``threshold``) stays absent, its map scaled to the unrefined peak.

    Shape: refined and unrefined ``(B, S, H, W)`` -> ``(B, S, H, W)`` in [0, 1].
    """
    flat = refined.flatten(-2)
    count = (unrefined > threshold).flatten(-2).sum(dim=-1, keepdim=True)  # (B, S, 1)
    ranked = flat.sort(dim=-1, descending=True).values
    n = flat.shape[-1]
    last_in = ranked.gather(-1, (count - 1).clamp(0, n - 1))
    first_out = ranked.gather(-1, count.clamp(max=n - 1))
    cut = torch.where(count >= n, ranked[..., -1:] * 0.5, (last_in + first_out) / 2).clamp_min(1e-6)
    peak_u, peak_r = unrefined.flatten(-2).amax(-1, keepdim=True), ranked[..., :1].clamp_min(1e-6)
    below = flat * threshold / cut
    above = threshold + (flat - cut) * (peak_u - threshold).clamp_min(0) / (peak_r - cut).clamp_min(1e-6)
    found = torch.where(flat > cut, above, below)
    absent = flat * peak_u / peak_r
    out = torch.where(count > 0, found, absent)
    return out.clamp(0, 1).view_as(refined)


def prototypes(
    batches: Iterable[tuple[torch.Tensor, torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Foreground and background prototypes per structure over a whole target set: the mean feature of
    the reliable pixels of each class, ``μ_fg = Σ f·[p ∧ r] / Σ [p ∧ r]`` (likewise ``μ_bg`` with ``¬p``).

    Shape: each batch is features ``(B, C, H, W)``, pseudo and reliable ``(B, S, H, W)`` bool -> ``fg``
    and ``bg`` ``(S, C)`` and ``judged`` ``(S,)`` bool, True for structures with reliable pixels of both
    classes (a class without reliable pixels gets a zero prototype, which must not be judged against).
    """
    sums: dict[str, Any] = {"fg": 0, "bg": 0, "nfg": 0, "nbg": 0}
    for features, pseudo, reliable in batches:
        for s_key, n_key, m in (("fg", "nfg", pseudo & reliable), ("bg", "nbg", ~pseudo & reliable)):
            sums[s_key] = sums[s_key] + torch.einsum("bchw,bshw->sc", features, m.float())
            sums[n_key] = sums[n_key] + m.float().sum(dim=(0, 2, 3)).unsqueeze(1)
    fg, bg = sums["fg"] / sums["nfg"].clamp_min(1), sums["bg"] / sums["nbg"].clamp_min(1)
    return fg, bg, ((sums["nfg"] > 0) & (sums["nbg"] > 0)).view(-1)


def prototype_agreement(
    features: torch.Tensor, pseudo: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor
) -> torch.Tensor:
    """Class-level check: a pixel agrees when its feature is closer (Euclidean) to its own class's prototype.

    Shape: features ``(B, C, H, W)``, pseudo ``(B, S, H, W)`` bool, fg and bg ``(S, C)`` -> ``(B, S, H, W)`` bool.
    """
    d_fg = torch.stack([(features - fg[s].view(1, -1, 1, 1)).norm(dim=1) for s in range(fg.shape[0])], dim=1)
    d_bg = torch.stack([(features - bg[s].view(1, -1, 1, 1)).norm(dim=1) for s in range(bg.shape[0])], dim=1)
    return torch.where(pseudo, d_fg < d_bg, d_bg < d_fg)


def prototype_consistency(
    features: torch.Tensor, labels: torch.Tensor, fg: torch.Tensor, bg: torch.Tensor
) -> torch.Tensor:
    """Share of pixels whose label is the class of the nearer prototype: how well a label map agrees with
    the feature evidence of the whole target set, per image and structure.

    Shape: features ``(B, C, H, W)``, labels ``(B, S, H, W)`` bool, fg and bg ``(S, C)`` -> ``(B, S)``.
    """
    return prototype_agreement(features, labels, fg, bg).float().mean(dim=(-2, -1))


def refinement_safeguard(
    features: torch.Tensor,
    unrefined: torch.Tensor,
    refined: torch.Tensor,
    fg: torch.Tensor,
    bg: torch.Tensor,
    judged: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep a structure's refinement only when its labels agree with the prototypes at least as well as the
    unrefined ones (:func:`prototype_consistency`); a structure that cannot be judged keeps it.

    Shape: features ``(B, C, H, W)``, unrefined and refined ``(B, S, H, W)`` bool, fg and bg ``(S, C)``,
    judged ``(S,)`` -> (keep ``(B, S)`` bool, consistency before and after ``(B, S)``).
    """
    before = prototype_consistency(features, unrefined, fg, bg)
    after = prototype_consistency(features, refined, fg, bg)
    return (after >= before) | ~judged.view(1, -1), before, after


def pixel_denoise(prob: torch.Tensor, low: float = 0.4, high: float = 0.85) -> torch.Tensor:
    """Pixel-level denoising: keep pixels confidently foreground (``p ≥ high``) or background (``p ≤ low``)."""
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, got {low} and {high}")
    return (prob >= high) | (prob <= low)


def similarity_loss(similarity: torch.Tensor, labels: torch.Tensor, valid: torch.Tensor, radius: int) -> torch.Tensor:
    """Class-balanced pair loss: BCE between ``S_ij`` and [same class], weighted fg–fg ¼, bg–bg ¼, fg–bg ½.

    Only pairs where both pixels are ``valid`` (reliable and agreeing with their prototype) count.
    Shape: similarity ``(B, K, H, W)``, labels and valid ``(B, 1, H, W)`` bool -> scalar.
    """
    terms = {"ff": [], "bb": [], "fb": []}
    for k, (dy, dx) in enumerate(offsets(radius)):
        if dy == 0 and dx == 0:
            continue
        other, inside = _shift(labels.float(), dy, dx)
        other_valid, _ = _shift(valid.float(), dy, dx)
        pair = valid[:, 0] & (other_valid[:, 0] > 0.5) & (inside[:, 0] > 0.5)
        s = similarity[:, k].clamp(1e-6, 1 - 1e-6)
        a, b = labels[:, 0], other[:, 0] > 0.5
        terms["ff"].append(-torch.log(s)[pair & a & b])
        terms["bb"].append(-torch.log(s)[pair & ~a & ~b])
        terms["fb"].append(-torch.log(1 - s)[pair & (a ^ b)])
    loss = similarity.new_zeros(())
    for key, weight in (("ff", 0.25), ("bb", 0.25), ("fb", 0.5)):
        values = torch.cat(terms[key]) if terms[key] else similarity.new_zeros(0)
        if values.numel():
            loss = loss + weight * values.mean()
    return loss


class SimilarityHead(nn.Module):
    """CPR's context-similarity head for one structure: (optional attention), 1x1 conv, BN, ReLU.

    Args:
        in_channels: channels of the frozen ASPP features.
        dim: embedding channels.
        attention: ``None``, or a ``medsegkit.attention`` name put in front (``cbam`` for CPR+CBAM).

    Shape: ``(B, C_in, H, W)`` -> ``(B, dim, H, W)``.
    """

    def __init__(self, in_channels: int, dim: int = 64, attention: str | None = None) -> None:
        super().__init__()
        from medsegkit.models import create_attention

        self.attention = create_attention(attention, in_channels) if attention else nn.Identity()
        self.embed = nn.Sequential(nn.Conv2d(in_channels, dim, 1), nn.BatchNorm2d(dim), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(self.attention(x))
