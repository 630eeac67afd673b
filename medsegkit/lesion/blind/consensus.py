"""How much the other candidate masks agree with each: the blind choice's second term.

Each lesion-like union of clusters of the two clusterings of an image (the clusterer's map and the k-means second
opinion) is refined and scored by the selection score (:func:`~medsegkit.lesion.blind.selection.score`: grey-level
contrast with a ring, less the border share and the distance from the centre). Scores of masks that differ a
little, or a lot, are often within a few hundredths of each other, and then the pick among them is a coin toss. A
mask that many of the other candidates overlap is one that several clusterings and unions reach by different
ways; a dark core alone, or a leak to one side, is reached by few. So the choice adds to each mask's score its
mean Dice with the other candidates (its *agreement*, in [0, 1], as the border share is, with the same unit
weight): between two masks of about the same score the one the pool agrees with wins, while a mask with a clearly
better score still wins over a crowd.
"""

from __future__ import annotations

import numpy as np

AGREEMENT_WEIGHT = 1.0  # a fraction like the selection's border share, which has the unit weight too


def agreement(masks: list[np.ndarray]) -> np.ndarray:
    """Each ``(H, W)`` bool mask's mean Dice with the others ``(n,)`` (:func:`medsegkit.metrics.dice`'s, two empty
    masks agreeing fully); 0 with no other mask.

    Example:
        >>> a = np.zeros((4, 4), bool); a[:2] = True
        >>> b = a.copy(); b[2, :2] = True
        >>> agreement([a, a, b]).round(2).tolist()
        [0.94, 0.94, 0.89]
    """
    n = len(masks)
    if n < 2:
        return np.zeros(n)
    flat = np.stack([m.ravel() for m in masks]).astype(np.float64)  # (n, H·W): all overlaps in one product
    overlap = flat @ flat.T
    sizes = np.diag(overlap)
    total = sizes[:, None] + sizes[None, :]
    dice = np.where(total > 0, 2 * overlap / np.maximum(total, 1), 1.0)
    return (dice.sum(axis=1) - np.diag(dice)) / (n - 1)


__all__ = ["AGREEMENT_WEIGHT", "agreement"]
