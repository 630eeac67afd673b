"""Click-to-segment: a new candidate mask from the cluster regions under a reviewer's click.

The clicked cluster says what the lesion looks like there. A lesion differs from the skin, which is most of
the field of view, so the clusters that belong with the clicked one are those at least as far from the skin's
grey level on the same side: at least as dark for a click darker than the skin's median, at least as pale
otherwise. Their union's connected part under the click, holes filled, is refined by the run's colour models
like every blind candidate (:func:`~medsegkit.lesion.blind.colour_refine.refine_mask`). A click on a lesion's
paler rim thus takes its darker core too; a click on the core alone takes what is as dark as the core.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from medsegkit.lesion.blind.colour_refine import refine_mask
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.selection import grey_level
from medsegkit.lesion.config import ColourRefineConfig
from medsegkit.morphology import fill_holes


def click_mask(
    work: np.ndarray, clusters: np.ndarray, point: tuple[float, float], refine: ColourRefineConfig | None
) -> np.ndarray:
    """The ``(H, W)`` bool mask of the lesion under ``point`` (row, column as fractions of the height and width)
    in an ``(H, W, 3)`` uint8 image with the cluster map ``clusters`` ``(H, W)``; refined unless ``refine`` is
    None.

    Example:
        >>> image = np.full((40, 40, 3), 200, np.uint8); image[10:30, 10:30] = 120; image[15:25, 15:25] = 40
        >>> clusters = np.select([image[..., 0] == 40, image[..., 0] == 120], [2, 1], 0)
        >>> int(click_mask(image, clusters, (0.3, 0.3), None).sum())  # the paler rim takes the core with it
        400
    """
    h, w = clusters.shape
    r, c = min(int(point[0] * h), h - 1), min(int(point[1] * w), w - 1)
    fov = field_of_view(work)
    grey = grey_level(work)
    values = np.unique(clusters[fov])
    level = {v: grey[(clusters == v) & fov].mean() for v in values}
    clicked = level.get(clusters[r, c], grey[r, c])
    skin = float(np.median(grey[fov]))
    same_side = [v for v in values if (level[v] <= clicked if clicked <= skin else level[v] >= clicked)]
    labels, _ = ndimage.label(np.isin(clusters, same_side) & fov)
    if labels[r, c] == 0:  # a click outside the field of view: the clicked cluster's own part
        labels, _ = ndimage.label(clusters == clusters[r, c])
    mask = fill_holes(labels == labels[r, c])
    if refine is None:
        return mask
    refined = refine_mask(work, mask, refine, fov=fov)
    if not refined[r, c]:  # the colour models trimmed the click away: its region as it was
        return mask
    parts, _ = ndimage.label(refined)
    return fill_holes(parts == parts[r, c])
