"""DeepLabv3+ (Chen et al., ECCV 2018) from segmentation-models-pytorch, as used by DPL and CPR:
two sigmoid outputs (cup, disc), output stride 16, dropout in the ASPP and before the head so that
MC-dropout sampling is possible."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from medsegkit.errors import DataError, UsageError
from medsegkit.models import pretrained


def _offline():
    """Make the Hugging Face hub client refuse network access; returns a function that restores it."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        from huggingface_hub import constants
    except ImportError:
        return lambda: None
    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True

    def restore() -> None:
        constants.HF_HUB_OFFLINE = previous

    return restore


def _encoder_weights(encoder: str, weights: str | None) -> tuple[str | None, Path | None]:
    """Map ``--encoder-weights`` to smp's argument, or to a local state-dict file; never download."""
    if weights in (None, "", "none"):
        return None, None
    if weights == "imagenet":
        return "imagenet", None
    path = Path(weights)
    if not path.is_file():
        raise UsageError(
            f"--encoder-weights must be none, imagenet (from the local cache) or a state-dict file, got {weights!r}"
        )
    return None, path


def _read_state_dict(path: Path, encoder: str) -> dict[str, torch.Tensor]:
    """The tensors of an encoder state-dict file; a file torch cannot read is a one-line error naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError, ... for a bad file
        raise DataError(f"{path}: not a readable state dict of the {encoder} encoder ({type(exc).__name__})") from None
    if not isinstance(state, dict):
        raise DataError(f"{path}: holds a {type(state).__name__}; expected a state dict of the {encoder} encoder")
    return state


class DeepLabV3Plus(nn.Module):
    """smp DeepLabV3Plus with ``Dropout2d(head_dropout)`` before its segmentation head.

    Args:
        encoder: an smp encoder name (``mobilenet_v2``), or ``efficientnet-lite0`` … ``efficientnet-lite2``
            (timm's ``tf_efficientnet_liteN`` through smp's ``tu-`` encoders).
        encoder_weights: ``None``/``"none"``, ``"imagenet"`` (for ``efficientnet-liteN`` from the installed
            package that ships them, see :mod:`medsegkit.models.pretrained`; for smp encoders only from the
            local cache: medsegkit sets ``HF_HUB_OFFLINE=1`` and never downloads), or a path to an encoder
            state dict.
        classes: output channels (2: cup, disc).
        aspp_dropout: dropout inside the ASPP (0.5, smp's default).
        head_dropout: dropout before the 1x1 head (0.1).
        input_norm: ``"image"`` standardises each channel of each input image to zero mean and unit
            standard deviation before the encoder, which makes the model blind to a camera's overall
            brightness, contrast and colour balance; ``"none"`` feeds [0, 1] intensities (checkpoints
            written before this option).

    Shape:
        ``(B, 3, H, W)`` with H, W multiples of 16 -> logits ``(B, classes, H, W)``.
    """

    def __init__(
        self,
        encoder: str = "mobilenet_v2",
        encoder_weights: str | None = None,
        classes: int = 2,
        aspp_dropout: float = 0.5,
        head_dropout: float = 0.1,
        input_norm: str = "image",
    ) -> None:
        super().__init__()
        if input_norm not in ("image", "none"):
            raise UsageError(f"input_norm must be 'image' or 'none', got {input_norm!r}")
        self.input_norm = input_norm
        import segmentation_models_pytorch as smp

        smp_weights, state_file = _encoder_weights(encoder, encoder_weights)
        packaged = encoder in pretrained.ENCODERS and smp_weights == "imagenet"
        if packaged:
            pretrained.weights_file(encoder)  # a missing package is reported before anything is built
            smp_weights = None
        try:
            offline = _offline()
            self.net = smp.DeepLabV3Plus(
                encoder_name=pretrained.smp_encoder(encoder),
                encoder_weights=smp_weights,
                encoder_output_stride=16,
                decoder_aspp_dropout=aspp_dropout,
                classes=classes,
            )
        except (KeyError, ValueError) as exc:
            raise UsageError(
                f"--encoder {encoder!r} is not an encoder segmentation-models-pytorch knows ({exc})"
            ) from None
        except OSError as exc:
            raise DataError(
                f"ImageNet weights for {encoder!r} are not in the local cache and medsegkit does not "
                f"download; pass a state-dict file ({type(exc).__name__})"
            ) from None
        finally:
            offline()
        if packaged:
            pretrained.load_encoder(self.net.encoder, encoder)
        if state_file is not None:
            state = _read_state_dict(state_file, encoder)
            try:
                missing, unexpected = self.net.encoder.load_state_dict(state, strict=False)
            except (RuntimeError, TypeError, AttributeError) as exc:  # a tensor of another shape, or no mapping
                raise DataError(
                    f"{state_file}: not a state dict of the {encoder} encoder ({str(exc).splitlines()[0][:160]})"
                ) from None
            if unexpected or len(missing) == len(self.net.encoder.state_dict()):
                raise DataError(f"{state_file}: not a state dict of the {encoder} encoder")
        self.net.segmentation_head = nn.Sequential(nn.Dropout2d(head_dropout), self.net.segmentation_head)

    @property
    def encoder(self) -> nn.Module:
        """The encoder: everything :meth:`encode` runs that has weights."""
        return self.net.encoder

    def encode(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Input standardisation and the encoder: ``(B, 3, H, W)`` -> the encoder's feature maps, finest first.
        Holds no dropout, so Monte-Carlo dropout runs it once for all its passes."""
        h, w = x.shape[-2:]
        if h % 16 or w % 16:
            raise ValueError(f"DeepLabV3Plus needs height and width divisible by 16, got {h}x{w}")
        if self.input_norm == "image":
            x = (x - x.mean(dim=(-2, -1), keepdim=True)) / (x.std(dim=(-2, -1), keepdim=True) + 1e-2)
        return self.net.encoder(x)

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        """The decoder (ASPP with its dropout) and the head (with its dropout): features -> logits
        ``(B, classes, H, W)``."""
        return self.net.segmentation_head(self.net.decoder(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))


def deeplabv3plus(**kwargs) -> DeepLabV3Plus:
    return DeepLabV3Plus(**kwargs)
