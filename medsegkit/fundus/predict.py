"""The fundus side of ``medsegkit predict``: a source or adapted checkpoint's disc and cup at each image's size.

Per image: disc and cup area (pixels), vertical cup-to-disc ratio and, with MC dropout, the mean
uncertainty inside each structure; masks hold canonical labels (0 background, 1 rim, 2 cup). The folder layout,
and the overlays (disc green, cup blue), are :mod:`medsegkit.engine.prediction`'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from medsegkit import metrics
from medsegkit.engine.prediction import finite
from medsegkit.fundus.source import labels_of
from medsegkit.imaging import batch_tensor, resize_nearest, resize_square
from medsegkit.models.fold import inference_copy
from medsegkit.models.uncertainty import mc_dropout
from medsegkit.runtime.precision import autocast

FIELDS = ("case", "height", "width", "disc_area", "cup_area", "vcdr", "uncertainty_disc", "uncertainty_cup")


class FundusPredictor:
    """Disc and cup of a two-output (cup, disc) sigmoid model at ``size``, cut at ``threshold``;
    ``passes`` > 0 adds the MC-dropout uncertainty; ``precision`` ``fp32`` or ``bf16``; ``tta`` averages each
    image's probabilities with its mirror image's."""

    task = "fundus"
    fields = FIELDS

    def __init__(
        self,
        model: torch.nn.Module,
        size: int,
        threshold: float,
        device: str,
        passes: int = 0,
        precision: str = "fp32",
        tta: bool = False,
    ) -> None:
        self.size, self.threshold, self.device, self.passes, self.precision = size, threshold, device, passes, precision
        self.tta = tta
        self.model = inference_copy(model, size, device)

    @torch.no_grad()
    def predict(
        self, images: list[np.ndarray], sizes: list[tuple[int, int]] | None = None
    ) -> list[tuple[np.ndarray, dict[str, Any]]]:
        sizes = sizes or [image.shape[:2] for image in images]
        x = batch_tensor([resize_square(image, self.size) for image in images]).to(self.device)
        with autocast(self.precision, self.device):
            prob = torch.sigmoid(self.model(x))
            if self.tta:  # a left eye mirrored is a right eye
                prob = (prob + torch.sigmoid(self.model(x.flip(-1))).flip(-1)) / 2
            prob = prob.float().cpu().numpy()
            std = mc_dropout(self.model, x, self.passes)[1].float().cpu().numpy() if self.passes else None
        results = []
        for i in range(len(images)):
            h, w = sizes[i]
            work = labels_of(prob[i], self.threshold)
            labels = resize_nearest(work, (h, w))
            cup, disc = labels == 2, labels >= 1
            record: dict[str, Any] = {
                "height": h,
                "width": w,
                "disc_area": int(disc.sum()),
                "cup_area": int(cup.sum()),
                "vcdr": finite(metrics.vcdr(cup, disc)),
            }
            if std is not None:
                for s, structure, inside in ((1, "disc", work >= 1), (0, "cup", work == 2)):
                    record[f"uncertainty_{structure}"] = (
                        finite(float(std[i, s][inside].mean())) if inside.any() else None
                    )
            results.append((labels, record))
        return results
