"""One image's blind lesion mask: field of view, clustering, selection, colour refinement, a second
opinion and the confidence, all without ground truth. The runner (:mod:`medsegkit.lesion.cluster`)
adds reading, writing and resuming around it."""

from __future__ import annotations

from dataclasses import dataclass, field
from math import inf
from typing import NamedTuple

import numpy as np

from medsegkit.lesion.blind.colour_refine import refine_mask
from medsegkit.lesion.blind.confidence import confidence
from medsegkit.lesion.blind.consensus import AGREEMENT_WEIGHT, agreement
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.grow import QUANTILES, grown, smoothed_chroma
from medsegkit.lesion.blind.selection import candidates, grey_level, score, select_foreground
from medsegkit.lesion.clustering.base import ClusterResult
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ColourRefineConfig, KMeansConfig
from medsegkit.morphology import dilate

SECOND_OPINION = KMeansConfig(num_clusters=3)


MAX_CANDIDATES = 6  # the masks a person is shown to choose from (keys 1-6 of the review page)
LOOKS_SAME = 2  # pixels: two masks whose boundaries lie this close look alike under a contour this wide


class Candidate(NamedTuple):
    """One mask ``(H, W)`` bool the blind choice scored, with its selection ``score``, the clustering it came
    from (``clusterer`` or ``second-opinion``) and whether it was sought among the ``paler`` clusters."""

    mask: np.ndarray
    score: float
    source: str
    paler: bool


@dataclass
class BlindMask:
    """The outcome for one ``(H, W, 3)`` working image: cluster map, masks ``(H, W)`` bool and the record;
    ``candidates`` are the distinct masks it chose from, the chosen one first, then by score."""

    clusters: ClusterResult
    fov: np.ndarray
    selected: np.ndarray
    mask: np.ndarray
    source: str
    paler: bool
    scores: dict[str, float]
    candidates: list[Candidate] = field(default_factory=list)


class Selection(NamedTuple):
    """One clustering's choice, all ``(H, W)`` bool: the ``union`` of clusters refined into ``mask``, the
    ``clearest`` union, the one the selection score prefers before any refinement (for the confidence), and
    every lesion-like union as ``scored`` ``(union, mask, score)``."""

    union: np.ndarray
    mask: np.ndarray
    clearest: np.ndarray
    scored: list[tuple[np.ndarray, np.ndarray, float]]


def select_and_refine(
    work: np.ndarray, clusters: np.ndarray, fov: np.ndarray, refine: ColourRefineConfig | None, paler: bool
) -> Selection:
    """The union of clusters of ``clusters`` ``(H, W)`` whose colour-refined mask scores best
    (:func:`~medsegkit.lesion.blind.selection.score`), that refined mask and the best union by its own score;
    empty when no union is lesion-like. Without ``refine`` all three are the union
    :func:`~medsegkit.lesion.blind.selection.select_foreground` chooses.

    Every lesion-like union (finite score) is refined before it is scored, so the union chosen is the one
    whose *final* mask looks most like a lesion: a dark core often has the clearer edge as a union of
    clusters, but once each union is refined the whole lesion is. A union whose refinement is not
    lesion-like (refined score −∞) competes with its own score, unrefined.
    """
    grey = grey_level(work, paler)
    if refine is None:
        selected = select_foreground(work, clusters, fov=fov, paler=paler)
        scored = [
            (u, u, s) for u in candidates(work, clusters, fov=fov, paler=paler) if (s := score(u, grey, fov=fov)) > -inf
        ]
        return Selection(selected, selected, selected, scored)
    empty = np.zeros(clusters.shape, bool)
    best, best_score, clearest, clearest_score = (empty, empty), -inf, empty, -inf
    scored = []
    for union in candidates(work, clusters, fov=fov, paler=paler):
        own = score(union, grey, fov=fov)
        if own == -inf:
            continue
        if own > clearest_score:
            clearest, clearest_score = union, own
        mask = refine_mask(work, union, refine, fov=fov)
        s = score(mask, grey, fov=fov)
        if s == -inf:
            mask, s = union, own
        scored.append((union, mask, s))
        if s > best_score:
            best, best_score = (union, mask), s
    return Selection(*best, clearest, scored)


NAMES = ("clusterer", "second-opinion")


def choose(selections: tuple[Selection, Selection], combine: bool, weight: float = AGREEMENT_WEIGHT) -> tuple[int, int]:
    """Which of the two clusterings' ``selections`` and which of its ``scored`` masks is the blind mask: the one of
    highest score plus ``weight`` times its agreement with all the scored masks of both
    (:func:`~medsegkit.lesion.blind.consensus.agreement`; 0: the score alone); only the clusterer's may win without
    ``combine``. ``(clustering, index)``; ``(0, -1)`` when the clusterer has no lesion-like mask to offer."""
    entries = [(i, j) for i, selection in enumerate(selections) for j in range(len(selection.scored))]
    if not any(combine or i == 0 for i, _ in entries):
        return 0, -1
    bonus = agreement([selections[i].scored[j][1] for i, j in entries])
    value = [
        selections[i].scored[j][2] + weight * bonus[k] if combine or i == 0 else -inf
        for k, (i, j) in enumerate(entries)
    ]
    return entries[int(np.argmax(value))]


def both_maps(
    work: np.ndarray, maps: tuple[np.ndarray, np.ndarray], fov: np.ndarray, refine: ColourRefineConfig | None
) -> tuple[tuple[Selection, Selection], bool, list[Candidate]]:
    """:func:`select_and_refine` on each of two cluster ``maps`` ``(H, W)`` (the clusterer's, the second opinion's)
    among the darker clusters, and among the paler ones too when neither map's best mask has a positive score
    (:func:`blind_mask`). The pair of the polarity whose best mask scores higher, whether it is the paler one, and
    every scored mask of the polarities tried as a :class:`Candidate`."""
    best = -inf
    pool: list[Candidate] = []
    for paler in (False, True):  # a paler lesion only when no darker mask is lesion-like (positive score)
        pair = (
            select_and_refine(work, maps[0], fov, refine, paler),
            select_and_refine(work, maps[1], fov, refine, paler),
        )
        for chosen, name in zip(pair, NAMES, strict=True):
            pool += [Candidate(mask, s, name, paler) for _, mask, s in chosen.scored]
        found = max((s for chosen in pair for _, _, s in chosen.scored), default=-inf)  # each map's best, as scored
        if not paler or found > best:
            selections, best, polarity = pair, found, paler
        if best > 0:
            break
    return selections, polarity, pool


def blind_mask(
    work: np.ndarray,
    result: ClusterResult,
    seed: int,
    refine: ColourRefineConfig | None,
    combine: bool = True,
    features: np.ndarray | None = None,
    agreement_weight: float = AGREEMENT_WEIGHT,
) -> BlindMask:
    """The lesion mask of ``work`` chosen without ground truth, from a clusterer's ``result`` on it.

    The clusterer's map and a second opinion (k-means with three colour clusters on the same image, seeded
    by ``seed``) each give a mask: the union of clusters inside the field of view whose colour-refined mask
    scores best (:func:`select_and_refine`; the best union itself when ``refine`` is None). Lesions are
    sought among the darker clusters; only when neither map's mask has a positive score (no mask darker than
    its ring by more than its penalties), among the paler ones (``BlindMask.paler``), whose masks then win if
    they score higher. Among the masks of both maps at that polarity the one of highest score plus agreement with
    the others is the result (:func:`choose`; only the clusterer's masks without ``combine``). The other map's
    best-scoring mask is the confidence's second opinion.

    ``agreement_weight``: the weight of the agreement in the choice (:func:`choose`).

    ``features``: a third cluster map ``(H, W)`` (:func:`~medsegkit.lesion.blind.features.feature_clusters`) whose
    refined unions are offered as candidates beside the chosen mask (its best-scoring one right after the grown
    masks), not chosen blindly.
    """
    fov = field_of_view(work)
    second = KMeansClusterer(SECOND_OPINION).segment(work, seed).clusters
    selections, paler, pool = both_maps(work, (result.clusters, second), fov, refine)
    which, index = choose(selections, combine, agreement_weight)
    first, other = selections[which], selections[1 - which]
    union, mask, selection_score = first.scored[index] if index >= 0 else (first.union, first.mask, -inf)
    scores = confidence(work, mask, first.clearest, other.mask, fov)
    scores["selection_score"] = selection_score
    chosen = Candidate(mask, scores["selection_score"], NAMES[which], paler)
    # offered to a reviewer beside the chosen mask, not chosen blindly: the selection score prefers a dark core
    # to the whole lesion grown from it, and was measured to lose more than it gains by choosing among them
    offered: list[Candidate] = []
    if features is not None:
        seen = select_and_refine(work, features, fov, refine, paler).scored
        offered = sorted((Candidate(m, s, "encoder features", paler) for _, m, s in seen), key=lambda c: -c.score)
    return BlindMask(
        result,
        fov,
        union,
        mask,
        chosen.source,
        paler,
        scores,
        distinct([chosen, *_grown(work, chosen, fov, refine), *offered[:1]], pool + offered[1:]),
    )


def _grown(work: np.ndarray, chosen: Candidate, fov: np.ndarray, refine: ColourRefineConfig | None) -> list[Candidate]:
    """The masks grown from the chosen one over what the border band's skin does not explain
    (:func:`~medsegkit.lesion.blind.grow.grown`), at each of :data:`~medsegkit.lesion.blind.grow.QUANTILES`."""
    if not chosen.mask.any():
        return []
    config = refine or ColourRefineConfig()
    colours, grey = smoothed_chroma(work, config), grey_level(work, chosen.paler)
    masks = [grown(work, chosen.mask, fov, q, config, colours) for q in QUANTILES]
    return [
        Candidate(m, score(m, grey, fov=fov), f"grown {q}", chosen.paler) for m, q in zip(masks, QUANTILES, strict=True)
    ]


def looks_same(a: np.ndarray, b: np.ndarray, within: int = LOOKS_SAME) -> bool:
    """Do two ``(H, W)`` bool masks differ by at most ``within`` pixels anywhere (Hausdorff distance,
    taxicab)? Their contours, drawn ``within`` pixels wide, then cover each other.

    Example:
        >>> a = np.zeros((20, 20), bool); a[5:15, 5:15] = True
        >>> b = np.zeros((20, 20), bool); b[5:16, 5:15] = True
        >>> looks_same(a, b), looks_same(a, np.roll(b, 3, axis=0))
        (True, False)
    """
    return bool(not (a & ~dilate(b, within)).any() and not (b & ~dilate(a, within)).any())


def distinct(first: list[Candidate], pool: list[Candidate], most: int = MAX_CANDIDATES) -> list[Candidate]:
    """``first`` in order (the chosen mask, the masks grown from it), then ``pool`` by decreasing score, leaving
    out a mask that looks the same as one kept (:func:`looks_same`) and an empty one, at most ``most``."""
    ranked = [*first, *sorted(pool, key=lambda c: -c.score)]
    kept: list[Candidate] = []
    for candidate in ranked:
        if candidate.mask.any() and not any(looks_same(candidate.mask, k.mask) for k in kept):
            kept.append(candidate)
        if len(kept) == most:
            break
    return kept
