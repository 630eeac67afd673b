"""The configs of the lesion pipeline: one frozen dataclass per clusterer and per post-processing step.

They import nothing heavy, so the CLI reads its help-text defaults from them. Invalid values raise
``ValueError`` naming the field; :func:`medsegkit.config.build` turns that into a usage error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from medsegkit.config import check_choices


@dataclass(frozen=True)
class S3Config:
    """Every knob of the S3-Net optimisation; defaults follow the paper except where measured otherwise.

    Departures, chosen on the PH2 development cases for CPU speed and quality (``bench/cluster.py``):
    ``channels`` 32 instead of 64 and ``stem_stride`` 2 (features at half resolution, logits
    upsampled); at most 6 iterations, stopping at 4 labels (paper: 50 and 3; 6 was chosen on PH2,
    HAM10000 and ISIC 2017 together, docs/cluster.md "Early stopping"); the prediction on
    T(x) is a fixed target (``affine_target="transformed"``, one backward pass instead of two); a
    plain (not edge-weighted) spatial term on the soft prediction. ``--set channels=64 --set
    stem_stride=1 --set max_iter=50 --set min_labels=3 --set affine_target=both`` restores the paper's setting.
    """

    model: str = "s3net"
    attention: str = "ilka"
    channels: int = 32
    num_clusters: int | None = None
    num_blocks: int = 2
    stem_stride: Literal[1, 2] = 2
    lr: float = 0.2
    momentum: float = 0.9
    max_iter: int = 6
    min_iter: int = 5
    min_labels: int = 4
    lambda_ce: float = 3.5
    lambda_affine: float = 0.2
    lambda_spatial: float = 4.0
    lambda_boundary: float = 0.0
    lambda_aux: float = 0.0
    boundary_factor: int = 16
    edge_sigma: float = 0.0
    spatial_on: Literal["logits", "probs"] = "probs"
    rotation: float = 30.0
    scale: tuple[float, float] = (0.9, 1.1)
    translate: float = 0.1
    shear: float = 10.0
    affine_target: Literal["both", "transformed"] = "transformed"
    stn_lr_scale: float = 0.01
    deform_impl: Literal["sampled", "torchvision"] = "sampled"
    channels_last: bool = False

    def __post_init__(self) -> None:
        check_choices(self)
        if self.max_iter < 1 or self.min_iter < 0 or self.min_iter > self.max_iter:
            raise ValueError(
                f"need 0 <= min_iter <= max_iter and max_iter >= 1, got {self.min_iter} and {self.max_iter}"
            )
        if self.min_labels < 2:
            raise ValueError(f"min_labels must be at least 2, got {self.min_labels}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if len(self.scale) != 2 or not (0 < self.scale[0] <= self.scale[1]):
            raise ValueError(f"scale must be two increasing positive numbers, got {self.scale}")


@dataclass(frozen=True)
class S3STNConfig(S3Config):
    """s3-stn: a learnable spatial transformer and a boundary loss; λ = 3.5 / 0.5 / 2, α = 3, β = 16."""

    model: str = "s3net-stn"
    max_iter: int = 12  # s3-stn was not measured at 6 (docs/cluster.md); it keeps the earlier default
    lambda_affine: float = 0.5
    lambda_spatial: float = 2.0
    lambda_boundary: float = 3.0


@dataclass(frozen=True)
class KMeansConfig:
    """k-means++ on pixel colours (optionally with their coordinates)."""

    num_clusters: int = 2
    features: Literal["rgb", "rgb-xy"] = "rgb"
    xy_weight: float = 0.5
    max_iter: int = 30

    def __post_init__(self) -> None:
        check_choices(self)
        if self.num_clusters < 2:
            raise ValueError(f"num_clusters must be at least 2, got {self.num_clusters}")
        if self.max_iter < 1:
            raise ValueError(f"max_iter must be at least 1, got {self.max_iter}")


@dataclass(frozen=True)
class SelectionConfig:
    """Weights of the selection score ``contrast − border·w_b − offcentre·w_c`` (−∞ outside the area range).

    ``contrast`` compares the mask with a thin ring around it (``ring_width`` of the image side), in
    units of the image's grey-level standard deviation: a lesion's boundary is where skin begins.
    """

    border_weight: float = 1.0
    centre_weight: float = 0.5
    min_area: float = 0.005
    max_area: float = 0.9
    corner_border_share: float = 0.0
    ring_width: float = 0.03


@dataclass(frozen=True)
class FieldOfViewConfig:
    """The dermoscope's lit region: what is darker than ``dark_fraction`` of the image's typical brightness
    and connected to the border is outside; a field of view under ``min_area`` of the image is not trusted.
    ``smoothing`` is a fraction of the image side.

    ``dark_fraction`` a quarter: on all three development collections together (PH2, HAM10000, ISIC 2017)
    no ground-truth lesion pixel falls outside the field of view for any value from 0.25 to 0.7 and the
    blind Dice moves by at most 0.011 over that range, while from 0.8 on lesions lose pixels; the least
    aggressive value is kept, because a very dark lesion cut by the frame is taken for vignetting sooner
    at higher values (tests/lesion/test_blind.py)."""

    dark_fraction: float = 0.25
    min_area: float = 0.3
    smoothing: float = 1 / 128

    def __post_init__(self) -> None:
        if not 0 < self.dark_fraction < 1 or not 0 <= self.min_area < 1 or not 0 <= self.smoothing < 0.5:
            raise ValueError(
                f"need 0 < dark_fraction < 1, 0 <= min_area < 1 and 0 <= smoothing < 0.5, got {self.dark_fraction}, "
                f"{self.min_area} and {self.smoothing}"
            )


@dataclass(frozen=True)
class ColourRefineConfig:
    """Sizes are fractions of the image's shorter side (at 256 px: margin 4, smoothing σ 2, opening 2 pixels);
    ``skin_quantile``: the mask grows over what the skin's colour model puts beyond this chi-square quantile
    (1 turns the growth off)."""

    margin: float = 1 / 64
    smoothing: float = 1 / 128
    opening: float = 1 / 128
    min_pixels: int = 20
    ridge: float = 1e-4
    skin_quantile: float = 0.99

    def __post_init__(self) -> None:
        if not 0.5 <= self.skin_quantile <= 1:
            raise ValueError(f"colour refinement skin_quantile must be in [0.5, 1], got {self.skin_quantile}")
        for name in ("margin", "smoothing", "opening"):
            value = getattr(self, name)
            if not 0 <= value < 0.5:
                raise ValueError(
                    f"colour refinement {name} must be a fraction of the image side in [0, 0.5), got {value}"
                )
        if self.min_pixels < 4:
            raise ValueError(
                f"colour refinement min_pixels must be at least 4 (a 3x3 covariance), got {self.min_pixels}"
            )


@dataclass(frozen=True)
class ClusterRunConfig:
    """What ``medsegkit cluster`` does around the clusterer: working size, seed, colour refinement,
    ``combine`` (choose among the k-means second opinion's masks too, not only the clusterer's: the blind choice
    takes the mask of highest selection score plus agreement with the others),
    ``batch``: how many images the clusterer handles in one step (S3-Net optimises their networks
    together; the masks are those of one-at-a-time runs, docs/cluster.md "Batched clustering"), and ``hair``:
    ``remove`` inpaints hairs before clustering (:mod:`medsegkit.lesion.hair`); ``encoder_candidates`` adds
    candidates from clusters of an ImageNet encoder's features (:mod:`medsegkit.lesion.blind.features`)."""

    size: int = 256
    seed: int = 0
    refine_mask: bool = True
    combine: bool = True
    batch: int = 1
    hair: Literal["keep", "remove"] = "keep"
    encoder_candidates: bool = True

    def __post_init__(self) -> None:
        check_choices(self)
        if self.size < 16:
            raise ValueError(f"size must be at least 16 pixels, got {self.size}")
        if self.batch < 1:
            raise ValueError(f"batch must be at least 1 image, got {self.batch}")


@dataclass(frozen=True)
class SelfTrainConfig:
    """``medsegkit self-train``: one DeepLabv3+ trained on a cluster run's blind masks (docs/self-training.md).

    ``encoder_weights`` ``auto`` takes the ImageNet weights of the installed ``medsegkit[pretrained]`` extra
    and falls back to random initialisation (the resolved value is what the run records). Training runs
    ``steps`` optimiser steps of ``batch_size`` images (checkpointed every ``steps_per_epoch``), whatever the
    folder's size. ``band`` ignores a band of that share of the image side on each side of every blind mask's
    boundary, where the teacher is least sure; ``weighting`` ``confidence`` weights each image's loss by the
    cluster run's confidence (relative to the run's mean), ``none`` weights all alike. ``gce_q`` is the q of the
    generalised cross-entropy the network learns with (:mod:`medsegkit.losses.robust`; 0.7, the setting of
    Zhang and Sabuncu for noisy labels; 0 is the plain cross-entropy). ``object_scale`` sets the lesion share the
    ``robust`` recipe's object zoom gives each crop: ``folder``, the share of the image that a randomly drawn
    blind mask of the run covers (the lesion scales the network will segment); ``fixed``, log-uniform over the
    augmentation's own range (:data:`~medsegkit.data.augment.OBJECT_AREA`). Predictions keep
    what lies inside the field of view; ``tta`` averages the image and its two flips. With ``combine``, an
    image of the folder keeps its cluster mask where the cluster run was more confident in it than the
    network is in its own (new images have no cluster mask: ``predict`` gives the network's). With ``rounds`` 2
    or more, each further round trains a new network on the previous round's masks and confidences.
    """

    model: str = "deeplabv3plus"
    encoder: str = "efficientnet-lite0"
    encoder_weights: str = "auto"
    size: int = 256
    steps: int = 200
    steps_per_epoch: int = 20
    batch_size: int = 8
    lr: float = 1e-3
    weight_decay: float = 1e-4
    band: float = 0.02
    weighting: Literal["confidence", "none"] = "confidence"
    gce_q: float = 0.7
    augment: Literal["keep-scale", "robust", "reference"] = "robust"
    object_scale: Literal["folder", "fixed"] = "folder"
    threshold: float = 0.5
    tta: bool = False
    combine: bool = True
    rounds: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds must be at least 1, got {self.rounds}")
        if self.size % 16 or self.size < 32:
            raise ValueError(f"size must be a multiple of 16 and at least 32, got {self.size}")
        if self.steps < 1 or self.steps_per_epoch < 1 or self.batch_size < 2:
            raise ValueError(
                f"need steps >= 1, steps_per_epoch >= 1 and batch_size >= 2 (BatchNorm), got {self.steps}, "
                f"{self.steps_per_epoch} and {self.batch_size}"
            )
        if not 0 <= self.band < 0.25:
            raise ValueError(f"band must be a share of the image side in [0, 0.25), got {self.band}")
        if not 0 <= self.gce_q <= 1:
            raise ValueError(f"gce_q must be in [0, 1] (0: the plain cross-entropy), got {self.gce_q}")
        if not 0 < self.threshold < 1 or self.lr <= 0 or self.weight_decay < 0:
            raise ValueError(
                f"need 0 < threshold < 1, lr > 0 and weight_decay >= 0, got {self.threshold}, {self.lr} and "
                f"{self.weight_decay}"
            )
        check_choices(self)
