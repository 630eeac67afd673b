"""A lesion segmentation network (DeepLabv3+, one sigmoid output): building it, loading it from a
``self-train`` checkpoint, and turning its output into a mask and a confidence for one image.

The network sees the image resized to ``size`` x ``size``; its probability map is resized back to the
image (bilinear) before the threshold, so masks have smooth edges at any resolution. With ``tta`` it
averages the image and its horizontal and vertical flips. What lies outside the dermoscope's field of
view (:func:`medsegkit.lesion.fov.field_of_view`) is never lesion.

Confidence of a predicted mask (each piece in [0, 1], multiplied, as for cluster runs):

- **certainty**: ``1 − mean 4·p·(1 − p)`` over the mask's bounding region (the mask dilated by a tenth of
  its extent): 1 where the network is sure of every pixel near the lesion, 0 where it says 0.5 everywhere;
- **contrast**: the mask's :func:`~medsegkit.lesion.confidence.boundary_contrast` ``c``, as ``c / (1 + c)``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import config as config_module
from medsegkit.checkpoint import apply_checkpoint
from medsegkit.data.images import display_copy
from medsegkit.errors import DataError
from medsegkit.imaging import overlay, resize_nearest, resize_square, to_tensor
from medsegkit.lesion.confidence import boundary_contrast
from medsegkit.lesion.config import SelfTrainConfig
from medsegkit.lesion.fov import field_of_view
from medsegkit.models import create_model, pretrained
from medsegkit.morphology import dilate
from medsegkit.uncertainty import mc_dropout

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
    # channels-last: oneDNN's depthwise convolutions (most of EfficientNet) run much faster in it on CPU
    return model.to(device, memory_format=torch.channels_last).eval(), cfg


@torch.no_grad()
def probabilities(
    model: torch.nn.Module, images: list[np.ndarray], size: int, tta: bool, device: str
) -> list[np.ndarray]:
    """Lesion probability ``(H, W)`` float32 of each ``(H, W, 3)`` uint8 image at its own size."""
    model.eval()
    x = torch.stack([to_tensor(resize_square(image, size)) for image in images]).to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    prob = torch.sigmoid(model(x))
    if tta:
        prob = (prob + torch.sigmoid(model(x.flip(-1))).flip(-1) + torch.sigmoid(model(x.flip(-2))).flip(-2)) / 3
    out = []
    for i, image in enumerate(images):
        full = F.interpolate(prob[i : i + 1], size=image.shape[:2], mode="bilinear", align_corners=False)
        out.append(full[0, 0].cpu().numpy())
    return out


def decide(image: np.ndarray, prob: np.ndarray, threshold: float) -> tuple[np.ndarray, dict[str, float]]:
    """The ``(H, W)`` bool mask of one image's probability map and its confidence record.

    The mask is ``prob > threshold`` inside the field of view (found at 256 px at most, then resized).
    """
    fov = field_of_view(resize_square(image, min(256, *image.shape[:2])))
    if fov.shape != prob.shape:
        fov = resize_nearest(fov, prob.shape)
    mask = (prob > threshold) & fov
    return mask, mask_confidence(image, prob, mask, fov)


def mask_confidence(image: np.ndarray, prob: np.ndarray, mask: np.ndarray, fov: np.ndarray) -> dict[str, float]:
    """``certainty · contrast`` of ``mask`` (see the module docstring), with both pieces; 0 for an empty mask.

    Computed on every ``step``-th pixel, ``step`` keeping about 256 pixels on the shorter side, so that a
    12-megapixel image costs no more than a small one."""
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
    (None: the network's own); ``passes`` > 0 adds the mean MC-dropout uncertainty inside the lesion."""

    task = TASK
    fields = FIELDS

    def __init__(
        self, model: torch.nn.Module, cfg: SelfTrainConfig, device: str, threshold: float | None = None, passes: int = 0
    ) -> None:
        self.model, self.cfg, self.device, self.passes = model, cfg, device, passes
        self.threshold = cfg.threshold if threshold is None else threshold

    def predict(self, images: list[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray, dict[str, Any]]]:
        probs = probabilities(self.model, images, self.cfg.size, self.cfg.tta, self.device)
        std = None
        if self.passes:
            x = torch.stack([to_tensor(resize_square(image, self.cfg.size)) for image in images]).to(self.device)
            with torch.no_grad():
                std = mc_dropout(self.model, x, self.passes)[1][:, 0].cpu().numpy()
        results = []
        for i, (image, prob) in enumerate(zip(images, probs, strict=True)):
            mask, scores = decide(image, prob, self.threshold)
            shown = display_copy(image)
            record: dict[str, Any] = {
                "height": image.shape[0],
                "width": image.shape[1],
                "lesion_area": int(mask.sum()),
                "mask_fraction": round(float(mask.mean()), 6),
                **{k: round(v, 6) for k, v in scores.items()},
            }
            if std is not None:
                inside = resize_nearest(mask.astype(np.uint8), std.shape[1:]) > 0
                record["uncertainty_lesion"] = round(float(std[i][inside].mean()), 6) if inside.any() else None
            drawn = overlay(shown, resize_nearest(mask.astype(np.uint8), shown.shape[:2]) > 0)
            results.append((mask.astype(np.uint8), drawn, record))
        return results
