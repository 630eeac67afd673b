"""Did adaptation help? A check without labels, on the target's own images, that keeps the source model otherwise.

Two pieces of evidence per model and image, both about what any good disc and cup model does on any image:

- **anatomy**: is the prediction a plausible optic nerve head: a disc and a cup, each in one piece (its largest
  part holding ``ONE_PIECE`` of it, specks aside), the cup inside the disc (``ONE_PIECE`` of its pixels) and
  smaller than it;
- **consistency**: per structure, the Dice between the prediction of the image and that of its mirror image
  mirrored back. A left eye mirrored is a right eye: a model that has learnt the target's discs and cups draws
  them the same; one that follows its noisy pseudo-labels or the camera's quirks does not.

The adapted model is kept unless the target's images give significant evidence (one-sided, level ``ALPHA``) that
it is worse than the source model on a piece: a paired t-test of the per-image consistency (the mean over disc and
cup, as a model is judged on both), and an exact sign test (McNemar's) of the images plausible for one model and
not the other. The comparison is paired image by image and asks for significance rather than a tuned margin: a
difference the images' own spread explains is no evidence of harm. Testing each structure on its own refused
adapted models whose disc was 0.002-0.007 less consistent while their cup gained 0.015-0.03 (docs/adaptation.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage, stats

from medsegkit.metrics import dice

ONE_PIECE = 0.95  # a structure's largest part holds this share of it: specks of a few pixels aside
ALPHA = 0.05  # the conventional significance level of the tests
STRUCTURES = ("cup", "disc")  # the model's output channels


@dataclass(frozen=True)
class Evidence:
    """What the check measured of one model, per image: ``plausible`` anatomy and mirror ``consistency`` (Dice)
    per structure."""

    plausible: np.ndarray
    consistency: dict[str, np.ndarray]

    @property
    def overall(self) -> np.ndarray:
        """Per image, the mean consistency over the structures."""
        return np.mean([self.consistency[s] for s in STRUCTURES], axis=0)

    @property
    def score(self) -> float:
        """Both pieces in one number, for choosing among one run's epochs: the mean over images of the
        consistency, an implausible prediction counting 0."""
        return float(np.mean(np.where(self.plausible, self.overall, 0.0)))

    def as_dict(self) -> dict:
        """The means, for the record."""
        return {
            "anatomy": float(self.plausible.mean()),
            "consistency": {s: float(v.mean()) for s, v in self.consistency.items()},
            "score": self.score,
        }


def check_inputs(images: dict[str, torch.Tensor], ids: list[str], size: int, device: str) -> torch.Tensor:
    """The target images ``(3, H, W)`` the check looks at, at the working size: ``(N, 3, size, size)``."""
    return torch.stack(
        [F.interpolate(images[c][None], size=(size, size), mode="bilinear", antialias=True)[0] for c in ids]
    ).to(device)


def plausible(prob: np.ndarray, threshold: float) -> bool:
    """Is a ``(2, H, W)`` (cup, disc) probability map, cut at ``threshold``, a plausible disc with its cup?

    Example:
        >>> prob = np.zeros((2, 20, 20)); prob[1, 4:16, 4:16] = 1; prob[0, 8:12, 8:12] = 1
        >>> plausible(prob, 0.5), plausible(prob[::-1], 0.5)  # cup and disc swapped: the cup is not inside
        (True, False)
    """
    cup, disc = prob[0] > threshold, prob[1] > threshold
    if not cup.any() or not disc.any() or cup.sum() >= disc.sum():
        return False
    for structure in (cup, disc):
        labels, _ = ndimage.label(structure)
        if np.bincount(labels.ravel())[1:].max() < ONE_PIECE * structure.sum():
            return False
    return bool((cup & disc).sum() >= ONE_PIECE * cup.sum())


@torch.no_grad()
def evidence(model: torch.nn.Module, x: torch.Tensor, threshold: float, batch: int = 8) -> Evidence:
    """The check's evidence of ``model`` on the images ``x`` ``(N, 3, s, s)``."""
    model.eval()
    plain, mirrored = [], []
    for start in range(0, len(x), batch):
        part = x[start : start + batch]
        plain.append(torch.sigmoid(model(part)).float().cpu().numpy())
        mirrored.append(torch.sigmoid(model(part.flip(-1))).flip(-1).float().cpu().numpy())
    prob, back = np.concatenate(plain), np.concatenate(mirrored)
    return Evidence(
        np.array([plausible(p, threshold) for p in prob]),
        {
            name: np.array([dice(p[c] > threshold, q[c] > threshold) for p, q in zip(prob, back, strict=True)])
            for c, name in enumerate(STRUCTURES)
        },
    )


def worse(source: np.ndarray, adapted: np.ndarray) -> float:
    """One-sided p-value that ``adapted`` is below ``source``, paired per image (t-test); 1 when they never
    differ.

    Example:
        >>> worse(np.array([0.9, 0.8, 0.9, 0.85]), np.array([0.7, 0.6, 0.75, 0.65])) < 0.05
        True
    """
    difference = adapted - source
    if not np.any(difference):
        return 1.0
    if np.ptp(difference) == 0:  # every image the same difference: no spread to test against
        return 0.0 if difference[0] < 0 else 1.0
    return float(stats.ttest_rel(adapted, source, alternative="less").pvalue)


def fewer_plausible(source: np.ndarray, adapted: np.ndarray) -> float:
    """One-sided p-value that fewer images are plausible after adaptation: an exact sign test of the images
    plausible for one model only (McNemar's test)."""
    lost, gained = int((source & ~adapted).sum()), int((adapted & ~source).sum())
    if lost + gained == 0:
        return 1.0
    return float(stats.binomtest(lost, lost + gained, 0.5, alternative="greater").pvalue)


def helped(source: Evidence, adapted: Evidence) -> tuple[bool, str]:
    """The verdict: no significant evidence that adaptation made anything worse, and why not when there is."""
    p = fewer_plausible(source.plausible, adapted.plausible)
    if p < ALPHA:
        return False, (
            f"fewer adapted predictions are plausible anatomy ({adapted.plausible.mean():.3f} against "
            f"{source.plausible.mean():.3f}, p = {p:.3f})"
        )
    p = worse(source.overall, adapted.overall)
    if p < ALPHA:
        change = ", ".join(
            f"{name} {source.consistency[name].mean():.3f} -> {adapted.consistency[name].mean():.3f}"
            for name in STRUCTURES
        )
        return False, f"the adapted model is less consistent under mirroring ({change}, p = {p:.3f})"
    return True, "no significant sign that the adapted model is less plausible or less consistent than the source"


def decide(
    source: Evidence, model: torch.nn.Module, x: torch.Tensor, threshold: float, keep_adapted: bool = False
) -> dict[str, Any]:
    """The check of the adapted ``model`` against the source model's evidence on the images ``x`` it adapted on
    (:func:`check_inputs`); the record names the output model (the adapted one when it helped, or when
    ``keep_adapted``)."""
    adapted = evidence(model, x, threshold)
    verdict, reason = helped(source, adapted)
    return {
        "helped": verdict,
        "reason": reason,
        "output": "adapted" if verdict or keep_adapted else "source",
        "keep_adapted": keep_adapted,
        "images": len(x),
        "source": source.as_dict(),
        "adapted": adapted.as_dict(),
    }
