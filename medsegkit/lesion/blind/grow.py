"""Growing a mask over what the surrounding skin does not explain: the whole of a two-tone or faint lesion.

The blind choice often keeps a lesion's dark core: its paler rim, or a faint lesion's whole body, is close to the
skin in brightness, and the colour refinement's skin model (fitted to everything outside the mask) has learnt
the rim as skin. Here the skin is sampled where lesions rarely reach, the field of view's border band (outside the
seed mask), and compared in chroma only: CIELAB's a* and b* (Pillow's ``ImageCms``), which moderately uneven
light moves much less than pigment does (light falling off by a tenth towards the corners: the grown masks keep
Dice 0.97 and 0.89 on a synthetic faint lesion; by a quarter the looser cut leaks into the skin). A trimmed
Gaussian fit of the band's chroma (:func:`~medsegkit.lesion.blind.colour_refine.atypical_of_skin`: robust to a
lesion or hairs in part of the band) marks what skin at chi-square ``quantile`` would not be; the seed joined
with the marked regions that touch it is cleaned as every candidate is. A lesion filling the frame fills much of
the band too; the trimmed fit keeps the majority, so the seed grows over it while the band holds more skin than
lesion.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageCms
from scipy import ndimage

from medsegkit.lesion.blind.colour_refine import _opened, atypical_of_skin
from medsegkit.lesion.blind.selection import border_band, clean
from medsegkit.lesion.config import ColourRefineConfig, SelectionConfig
from medsegkit.morphology import dilate

QUANTILES = (0.99, 0.9)  # the skin model's cut: the refinement's own, and one a tenth of the skin would cross
BAND = 0.02  # the border band's width as a share of the side: the one the selection's border share counts

_TO_LAB = ImageCms.buildTransformFromOpenProfiles(
    ImageCms.createProfile("sRGB"), ImageCms.createProfile("LAB"), "RGB", "LAB"
)


def chroma(image: np.ndarray) -> np.ndarray:
    """CIELAB a* and b* ``(H, W, 2)`` float of an ``(H, W, 3)`` uint8 sRGB image.

    Example:
        >>> ab = chroma(np.array([[[255, 0, 0], [128, 128, 128]]], np.uint8))
        >>> bool(ab[0, 0, 0] > 50), ab[0, 1].tolist()
        (True, [0.0, 0.0])
    """
    lab = np.asarray(ImageCms.applyTransform(Image.fromarray(image), _TO_LAB))
    return lab[..., 1:].view(np.int8).astype(np.float64)  # Pillow keeps a* and b* as signed bytes


def grown(
    image: np.ndarray,
    seed: np.ndarray,
    fov: np.ndarray,
    quantile: float,
    config: ColourRefineConfig = ColourRefineConfig(),
    colours: np.ndarray | None = None,
) -> np.ndarray:
    """``seed`` ``(H, W)`` bool joined with the regions touching it that the border band's skin does not explain
    at ``quantile`` (module docstring), cleaned; ``seed`` itself when that leaves nothing or the band is too
    small. ``colours``: the image's smoothed chroma, when already computed (:func:`smoothed_chroma`)."""
    if not seed.any():
        return seed
    side = min(seed.shape)
    band = border_band(fov, max(1, round(BAND * side))) & ~dilate(seed, max(1, round(config.margin * side)))
    if band.sum() < config.min_pixels:
        return seed
    colours = smoothed_chroma(image, config) if colours is None else colours
    atypical = atypical_of_skin(colours, band, quantile, config.ridge) & fov
    labels, _ = ndimage.label(atypical | seed)
    touching = np.unique(labels[seed])
    selection = SelectionConfig()
    mask = _opened(clean(np.isin(labels, touching[touching > 0]), selection, fov), config, selection, fov)
    return mask if mask.any() else seed


def smoothed_chroma(image: np.ndarray, config: ColourRefineConfig = ColourRefineConfig()) -> np.ndarray:
    """:func:`chroma` smoothed as the colour refinement smooths colours (``config.smoothing`` of the side)."""
    ab = chroma(image)
    sigma = config.smoothing * min(image.shape[:2])
    return np.stack([ndimage.gaussian_filter(ab[..., c], sigma) for c in range(2)], axis=-1) if sigma > 0 else ab
