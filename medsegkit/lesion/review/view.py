"""What the review page shows of a case: its image with the current mask's contour, small copies for the
contact sheet, and each candidate's contour, as JPEG bytes (:mod:`medsegkit.engine.overlays`).

Decoded images and masks are kept in small caches keyed by the case and its state, so that walking the cases
in order, or coming back to one, reads and draws nothing twice.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from medsegkit.data.imageio import read_rgb_reduced
from medsegkit.engine.overlays import GREEN, display_copy, draw, overlay_bytes
from medsegkit.errors import UsageError
from medsegkit.lesion.review.decisions import State
from medsegkit.lesion.review.run import ReviewRun

SHOWN = 768  # the longer side of the image a reviewer looks at
THUMB = 192  # the longer side of a contact-sheet or candidate thumbnail
GREY = (255, 255, 255)


class CaseViews:
    """JPEG views of the cases of ``run``."""

    def __init__(self, run: ReviewRun) -> None:
        self.run = run
        self.shown = lru_cache(maxsize=48)(self._shown)
        self.mask = lru_cache(maxsize=256)(self._mask)

    def _shown(self, name: str) -> np.ndarray:
        """The image at most ``SHOWN`` px on its longer side; a small one enlarged to half that, so that the
        contours drawn on it stay thin once the browser shows it large."""
        image = display_copy(read_rgb_reduced(self.run.case(name).image, SHOWN, 1)[0], SHOWN)
        h, w = image.shape[:2]
        if max(h, w) < SHOWN // 2:
            scale = SHOWN // 2 / max(h, w)
            image = np.asarray(Image.fromarray(image).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
        return image

    def _mask(self, name: str, state: State) -> np.ndarray:
        return self.run.mask_of(name, state)

    def image(self, name: str) -> bytes:
        """The case's image with its current mask's contour (green; white once excluded), at most ``SHOWN`` px."""
        state = self.run.state(name)
        colour = GREY if state.status == "excluded" else GREEN
        self.run.blind_mask(name)  # read now, while the reviewer looks: a decision then only writes
        return overlay_bytes(draw(self.shown(name), [(self.mask(name, state), colour)], SHOWN))

    def thumbnail(self, name: str) -> bytes:
        """The contact sheet's copy of :meth:`image`, at most ``THUMB`` px."""
        state = self.run.state(name)
        colour = GREY if state.status == "excluded" else GREEN
        return overlay_bytes(draw(self.shown(name), [(self.mask(name, state), colour)], THUMB))

    def candidate(self, name: str, number: int) -> bytes:
        """Candidate ``number`` (1-based) of the case drawn on a thumbnail."""
        found = self.run.candidates(name)
        if not 1 <= number <= len(found):
            raise UsageError(f"case {name!r} has {len(found)} candidate(s), not {number}")
        return overlay_bytes(draw(self.shown(name), [(found[number - 1], GREEN)], THUMB))
