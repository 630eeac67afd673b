"""The configs of the fundus pipeline: source training, pseudo-label refinement, adaptation.

They import nothing heavy, so the CLI reads its help-text defaults from them. Invalid values raise
``ValueError`` naming the field; :func:`medsegkit.config.build` turns that into a usage error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Method = Literal["cpr", "cpr-cbam", "dpl"]
# Pseudo-labels are noisy labels: the generalised cross-entropy (Zhang and Sabuncu 2018, q = 0.7) learns less
# from those the network confidently contradicts, and held the disc on a shifted target where masked BCE
# lost it (docs/adaptation.md). CPR's code trains with focal BCE, whose flatter probabilities fall below
# the 0.75 cut at the cup's edge; it stays registered, not a default.
DEFAULT_LOSS: dict[str, str] = {"cpr": "masked-gce", "cpr-cbam": "masked-gce", "dpl": "masked-gce"}


@dataclass(frozen=True)
class SourceConfig:
    """Source training; defaults follow the DPL/CPR reference code where a CPU allows.

    ``augment`` is the augmentation recipe (:mod:`medsegkit.data.augment`): ``robust`` (default) zooms
    the disc to fill 10-60 % of the crop and varies brightness, contrast, colour and blur, so the model
    holds on a camera it never saw; ``reference`` is the DPL/CPR code's recipe. ``input_norm`` ``image``
    standardises each channel of each image inside the model (blind to overall brightness, contrast
    and colour cast); ``none`` is the reference code's input and what earlier checkpoints used.
    """

    model: str = "deeplabv3plus"
    encoder: str = "mobilenet_v2"
    encoder_weights: str | None = None
    size: int = 512
    epochs: int = 50
    batch_size: int = 8
    lr: float = 1e-3
    aspp_dropout: float = 0.5
    head_dropout: float = 0.1
    augment: str = "robust"
    input_norm: str = "image"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.augment not in ("robust", "reference"):
            raise ValueError(f"augment must be 'robust' or 'reference', got {self.augment!r}")
        if self.input_norm not in ("image", "none"):
            raise ValueError(f"input_norm must be 'image' or 'none', got {self.input_norm!r}")
        if not (0 <= self.aspp_dropout < 1 and 0 <= self.head_dropout < 1):
            raise ValueError(
                f"dropout rates must be in [0, 1), got aspp {self.aspp_dropout} and head {self.head_dropout}"
            )
        if self.size % 16 or self.size < 32:
            raise ValueError(f"size must be a multiple of 16 and at least 32, got {self.size}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(
                f"need epochs >= 1 and batch_size >= 2 (BatchNorm), got {self.epochs} and {self.batch_size}"
            )


@dataclass(frozen=True)
class RefineConfig:
    """MC-dropout pseudo-labels, prototypes and (CPR) context-similarity refinement; see ``refine.py``."""

    method: Method = "cpr"
    attention: str | None = None
    passes: int = 10
    threshold: float = 0.75
    max_std: float = 0.05
    std_temperature: float = 2.0
    radius: int = 4
    beta: float = 2.0
    steps: int = 4
    gamma_low: float = 0.4
    gamma_high: float = 0.85
    head_dim: int = 64
    head_iters: int = 100
    head_lr: float = 1e-3
    head_window: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        if self.std_temperature <= 0:
            raise ValueError(f"std_temperature must be positive, got {self.std_temperature}")
        if self.passes < 1 or self.radius < 1 or self.steps < 0 or self.head_iters < 0:
            raise ValueError("need passes >= 1, radius >= 1, steps >= 0 and head_iters >= 0")
        if self.head_window <= self.radius:
            raise ValueError(f"head_window must exceed radius ({self.radius}), got {self.head_window}")
        if not 0 <= self.gamma_low < self.gamma_high <= 1:
            raise ValueError(f"need 0 <= gamma_low < gamma_high <= 1, got {self.gamma_low} and {self.gamma_high}")

    @property
    def similarity_attention(self) -> str | None:
        """The attention module of the similarity heads: ``attention``, else CBAM for ``cpr-cbam``."""
        return self.attention or ("cbam" if self.method == "cpr-cbam" else None)


@dataclass(frozen=True)
class AdaptConfig:
    """Adaptation on denoised pseudo-labels.

    ``loss`` None means the method's default loss (:data:`DEFAULT_LOSS`: the generalised cross-entropy
    ``masked-gce``; ``masked-bce`` is DPL's reference loss, ``focal-bce`` CPR's); ``threshold`` cuts the
    test-split predictions of the source-only and the adapted model alike, as DPL's and CPR's evaluation
    code does. ``ema`` > 0 turns on a mean teacher (CBMT's idea): an exponential moving average of the model,
    θ_T ← ema · θ_T + (1 − ema) · θ_S after every step, labels each augmented batch (cut at the refinement's
    threshold) on the pixels the method's denoising kept, and is the adapted model; 0 trains on the fixed
    refined pseudo-labels, as DPL and CPR do. ``patience`` > 0 stops early by the label-free check: after every
    epoch the check's score of the adapted model on the target images is measured, the best epoch is the adapted
    model (which the check then compares with the source model), and ``patience`` epochs without a better one
    end the run; 0 trains every epoch.
    """

    method: Method = "cpr"
    loss: str | None = None
    epochs: int = 10
    batch_size: int = 8
    lr: float = 3e-4
    threshold: float = 0.75
    seed: int = 0
    ema: float = 0.0
    patience: int = 0

    def __post_init__(self) -> None:
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0 (0: train every epoch), got {self.patience}")
        if not 0 <= self.ema < 1:
            raise ValueError(f"ema must be in [0, 1) (0: no mean teacher), got {self.ema}")
        if not 0 < self.threshold < 1:
            raise ValueError(f"threshold must be between 0 and 1, got {self.threshold}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")

    @property
    def loss_name(self) -> str:
        return self.loss or DEFAULT_LOSS[self.method]
