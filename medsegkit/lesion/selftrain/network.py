"""A lesion segmentation network (DeepLabv3+, one sigmoid output): building it, loading it from a
``self-train`` checkpoint, and turning its output into a mask and a confidence for one image.

The network sees the image resized to ``size`` x ``size``; its probability map is resized back to the
image (bilinear) before the threshold, so masks have smooth edges at any resolution. With ``tta`` it
averages the image and its horizontal and vertical flips. What lies outside the dermoscope's field of
view (:func:`medsegkit.lesion.blind.fov.field_of_view`) is never lesion.

Confidence of a predicted mask (each piece in [0, 1], multiplied, as for cluster runs):

- **certainty**: ``1 − mean 4·p·(1 − p)`` over the mask's bounding region (the mask dilated by a tenth of
  its extent): 1 where the network is sure of every pixel near the lesion, 0 where it says 0.5 everywhere;
- **contrast**: the mask's :func:`~medsegkit.lesion.blind.confidence.boundary_contrast` ``c``, as ``c / (1 + c)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import config as config_module
from medsegkit.errors import DataError
from medsegkit.imaging import batch_tensor, resize_nearest, resize_square
from medsegkit.lesion.blind.confidence import boundary_contrast
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.per_image import looks_same
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.models import create_model, pretrained
from medsegkit.models.fold import inference_copy
from medsegkit.models.uncertainty import mc_dropout
from medsegkit.morphology import dilate
from medsegkit.runtime.checkpoint import apply_checkpoint
from medsegkit.runtime.precision import autocast

TASK = "lesion"


def resolve_weights(cfg: SelfTrainConfig) -> SelfTrainConfig:
    """``encoder_weights="auto"`` made concrete: ``imagenet`` when the encoder's weights ship with an installed
    package (``medsegkit[pretrained]``), else ``none``."""
    if cfg.encoder_weights != "auto":
        return cfg
    weights = "none"
    if cfg.encoder in pretrained.ENCODERS:
        try:
            pretrained.weights_file(cfg.encoder)
            weights = "imagenet"
        except Exception:  # the extra is not installed: random initialisation, recorded as such
            weights = "none"
    return replace(cfg, encoder_weights=weights)


def build_model(cfg: SelfTrainConfig, weights: bool = True) -> torch.nn.Module:
    """The DeepLabv3+ of ``cfg`` with one output channel; ``weights`` False skips the ImageNet weights (a
    checkpoint's own replace them)."""
    return create_model(
        cfg.model,
        encoder=cfg.encoder,
        encoder_weights=cfg.encoder_weights if weights and cfg.encoder_weights != "auto" else None,
        classes=1,
        input_norm="image",
    )


def load_lesion_model(
    checkpoint: Path, payload: dict[str, Any], device: str = "cpu"
) -> tuple[torch.nn.Module, SelfTrainConfig]:
    """The network and config saved by ``self-train`` in ``payload`` (read from ``checkpoint``)."""
    saved = payload.get("config")
    if payload.get("task") != TASK or not isinstance(saved, dict):
        raise DataError(f"{checkpoint}: not a medsegkit lesion checkpoint (expected model.pt from self-train)")
    cfg = config_module.build(SelfTrainConfig, saved, "lesion checkpoint")
    model = build_model(cfg, weights=False)
    apply_checkpoint(checkpoint, payload, model)
    return model.to(device).eval(), cfg


@torch.inference_mode()
def probabilities(model: torch.nn.Module, x: torch.Tensor, tta: bool) -> torch.Tensor:
    """Lesion probability ``(B, 1, s, s)`` of a ``(B, 3, s, s)`` batch (with ``tta``, averaged over the batch
    and its horizontal and vertical flips)."""
    model.eval()
    prob = torch.sigmoid(model(x))
    if tta:
        prob = (prob + torch.sigmoid(model(x.flip(-1))).flip(-1) + torch.sigmoid(model(x.flip(-2))).flip(-2)) / 3
    return prob


LEVELS = (0.25, 0.75)  # the network's looser and tighter masks, offered beside its own to a reviewer


def decide(
    image: np.ndarray,
    small: np.ndarray,
    prob: torch.Tensor,
    threshold: float,
    size: tuple[int, int] | None = None,
    levels: tuple[float, ...] = (),
) -> tuple[np.ndarray, dict[str, float]] | tuple[np.ndarray, dict[str, float], list[np.ndarray]]:
    """The bool mask at ``size`` (default the image's) of an ``(h, w, 3)`` image and its confidence record,
    from the image at the working size (``small``, ``(s, s, 3)``) and the network's probability there
    (``prob``, ``(1, s, s)``).

    The mask is ``prob > threshold`` inside the field of view, the probability resized (bilinear) to
    ``size`` and the field of view found at 256 px at most (then resized). The confidence is measured at
    the working size, so that it costs the same and means the same whatever the image's resolution. With
    ``levels``, a third item: the masks at the working size cut at ``threshold`` and at each level (a
    reviewer's candidates).
    """
    size = image.shape[:2] if size is None else size
    side = min(256, *image.shape[:2])
    fov = field_of_view(small if side == small.shape[0] else resize_square(image, side))
    full = F.interpolate(prob[None], size=size, mode="bilinear", align_corners=False)[0, 0].cpu().numpy()
    mask = (full > threshold) & resize_nearest(fov, full.shape)
    work = prob[0].cpu().numpy()
    fov_work = resize_nearest(fov, work.shape)
    scores = mask_confidence(small, work, (work > threshold) & fov_work, fov_work)
    if not levels:
        return mask, scores
    return mask, scores, [(work > level) & fov_work for level in (threshold, *levels)]


def mask_confidence(image: np.ndarray, prob: np.ndarray, mask: np.ndarray, fov: np.ndarray) -> dict[str, float]:
    """``certainty · contrast`` of ``mask`` (see the module docstring), with both pieces; 0 for an empty mask.

    Computed on every ``step``-th pixel, ``step`` keeping about 256 pixels on the shorter side."""
    if not mask.any():
        return {"confidence": 0.0, "certainty": 0.0, "contrast": 0.0}
    step = max(1, min(mask.shape) // 256)
    image, prob, mask, fov = image[::step, ::step], prob[::step, ::step], mask[::step, ::step], fov[::step, ::step]
    if not mask.any():
        return {"confidence": 0.0, "certainty": 0.0, "contrast": 0.0}
    rows, cols = np.nonzero(mask)
    reach = max(1, round(0.1 * max(np.ptp(rows) + 1, np.ptp(cols) + 1)))
    near = dilate(mask, reach) & fov
    certainty = 1.0 - float(np.mean(4 * prob[near] * (1 - prob[near])))
    c = boundary_contrast(image, mask, fov)
    contrast = c / (1 + c)
    return {"confidence": certainty * contrast, "certainty": certainty, "contrast": contrast}


FIELDS = (
    "case",
    "mask_source",
    "height",
    "width",
    "lesion_area",
    "mask_fraction",
    "confidence",
    "certainty",
    "contrast",
    "uncertainty_lesion",
)


class LesionPredictor:
    """Lesion masks of a self-trained network (:func:`probabilities`, :func:`decide`), with ``threshold``
    (None: the network's own); ``passes`` > 0 adds the mean MC-dropout uncertainty inside the lesion;
    ``precision`` ``fp32`` or ``bf16`` (:mod:`medsegkit.runtime.precision`)."""

    task = TASK
    fields = FIELDS

    def __init__(
        self,
        model: torch.nn.Module,
        cfg: SelfTrainConfig,
        device: str,
        threshold: float | None = None,
        passes: int = 0,
        precision: str = "fp32",
    ) -> None:
        self.model, self.cfg, self.device, self.passes = inference_copy(model, cfg.size, device), cfg, device, passes
        self.threshold = cfg.threshold if threshold is None else threshold
        self.precision, self.size = precision, cfg.size

    def predict(
        self, images: list[np.ndarray], sizes: list[tuple[int, int]] | None = None
    ) -> list[tuple[np.ndarray, dict[str, Any], list[tuple[np.ndarray, str]]]]:
        """Each image's mask at its full size, its record and the candidates a reviewer is offered (the mask and
        the looser and tighter cuts of :data:`LEVELS`, at the working size)."""
        sizes = sizes or [image.shape[:2] for image in images]
        small = [resize_square(image, self.cfg.size) for image in images]
        x = batch_tensor(small).to(self.device)
        std = None
        with autocast(self.precision, self.device):
            prob = probabilities(self.model, x, self.cfg.tta).float()
            if self.passes:
                with torch.no_grad():
                    std = mc_dropout(self.model, x, self.passes)[1][:, 0].float().cpu().numpy()
        results = []
        for i, image in enumerate(images):
            mask, scores, cut = decide(image, small[i], prob[i], self.threshold, sizes[i], LEVELS)
            record: dict[str, Any] = {
                "height": sizes[i][0],
                "width": sizes[i][1],
                "lesion_area": int(mask.sum()),
                "mask_fraction": round(float(mask.mean()), 6),
                **{k: round(v, 6) for k, v in scores.items()},
            }
            if std is not None:
                inside = resize_nearest(mask.astype(np.uint8), std.shape[1:]) > 0
                record["uncertainty_lesion"] = round(float(std[i][inside].mean()), 6) if inside.any() else None
            offered: list[tuple[np.ndarray, str]] = []
            for cut_mask, level in zip(cut, (self.threshold, *LEVELS), strict=True):
                if cut_mask.any() and not any(looks_same(cut_mask, kept) for kept, _ in offered):
                    offered.append((cut_mask, f"network > {level}"))
            results.append((mask.astype(np.uint8), record, offered))
        return results
