"""Did adaptation help? A check without labels, on the target's own images, that keeps the source model otherwise.

Two pieces of evidence per model, both about what any good disc and cup model does on any image:

- **anatomy**: the share of images whose prediction is a plausible optic nerve head: a disc and a cup, each in one
  piece (its largest part holding ``ONE_PIECE`` of it, specks aside), the cup inside the disc (``ONE_PIECE`` of its
  pixels) and smaller than it;
- **consistency**: per structure, the mean Dice between the prediction of an image and that of its mirror image
  mirrored back. A left eye mirrored is a right eye: a model that has learnt the target's discs and cups draws
  them the same; one that follows its noisy pseudo-labels or the camera's quirks does not.

The adapted model is kept only when it is at least as good as the source model on every piece: anatomy, and the
consistency of the disc and of the cup. Each comparison is a sign, no tuned margin: the check asks for no
evidence of harm, and where the two models tie it keeps the adapted one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import ndimage

ONE_PIECE = 0.95  # a structure's largest part holds this share of it: specks of a few pixels aside
STRUCTURES = ("cup", "disc")  # the model's output channels


@dataclass(frozen=True)
class Evidence:
    """What the check measured of one model: ``anatomy`` (share of plausible images) and ``consistency`` per
    structure (mean mirror Dice)."""

    anatomy: float
    consistency: dict[str, float]

    def as_dict(self) -> dict:
        return asdict(self)


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
        labels, count = ndimage.label(structure)
        if np.bincount(labels.ravel())[1:].max() < ONE_PIECE * structure.sum():
            return False
    return bool((cup & disc).sum() >= ONE_PIECE * cup.sum())


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


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
    anatomy = float(np.mean([plausible(p, threshold) for p in prob]))
    consistency = {
        name: float(np.mean([_dice(p[c] > threshold, q[c] > threshold) for p, q in zip(prob, back, strict=True)]))
        for c, name in enumerate(STRUCTURES)
    }
    return Evidence(anatomy, consistency)


def helped(source: Evidence, adapted: Evidence) -> tuple[bool, str]:
    """The verdict: did adaptation help, and why not when it did not.

    Example:
        >>> s, a = Evidence(0.9, {"cup": 0.8, "disc": 0.95}), Evidence(0.9, {"cup": 0.85, "disc": 0.94})
        >>> helped(s, a)
        (False, 'the adapted disc is less consistent under mirroring (0.940 < 0.950)')
    """
    if adapted.anatomy < source.anatomy:
        return False, f"fewer adapted predictions are plausible anatomy ({adapted.anatomy:.3f} < {source.anatomy:.3f})"
    for name in STRUCTURES:
        if adapted.consistency[name] < source.consistency[name]:
            return False, (
                f"the adapted {name} is less consistent under mirroring "
                f"({adapted.consistency[name]:.3f} < {source.consistency[name]:.3f})"
            )
    return True, "the adapted model is at least as plausible and as consistent as the source model"
