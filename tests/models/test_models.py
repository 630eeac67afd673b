"""One tester for every registered model: shape, finite output, gradients, determinism."""

from __future__ import annotations

import pytest
import torch

from medsegkit import registry
from medsegkit.errors import DataError, UsageError
from medsegkit.models import create_model
from medsegkit.models.fold import fold_batchnorm

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread

# small settings and input shapes (B, 3, H, W) per model; a registered model missing here fails
CASES: dict[str, tuple[dict, list[tuple[int, int, int, int]], int]] = {
    "s3net": (dict(channels=8, num_blocks=1), [(1, 3, 32, 32), (2, 3, 24, 40)], 8),
    "s3net-stn": (dict(channels=8, num_blocks=1), [(1, 3, 32, 32), (2, 3, 24, 40)], 8),
    "deeplabv3plus": (dict(encoder="mobilenet_v2"), [(2, 3, 32, 32), (2, 3, 64, 48)], 2),
}
CORE = [c.name for c in registry.components("models") if c.dist == "medsegkit"]


@pytest.mark.parametrize("name", CORE)
class TestModel:
    def make(self, name: str, **kwargs) -> torch.nn.Module:
        assert name in CASES, f"model {name!r} is registered but has no test case"
        torch.manual_seed(0)
        return create_model(name, **{**CASES[name][0], **kwargs})

    def test_forward_shape_and_finite(self, name):
        for shape in CASES[name][1]:
            logits = self.make(name)(torch.rand(*shape))
            assert isinstance(logits, torch.Tensor)  # the models contract: extras never in forward
            assert logits.shape == (shape[0], CASES[name][2], *shape[2:])
            assert torch.isfinite(logits).all()

    def test_every_parameter_gets_a_gradient(self, name):
        model = self.make(name)
        x = torch.rand(*CASES[name][1][0])
        if hasattr(model, "forward_with_extras"):
            logits, extras = model.forward_with_extras(x)
            torch.testing.assert_close(logits, model(x))
            loss = logits.softmax(1).std() + sum(v.mean() for v in extras.values())
        else:
            loss = model(x).softmax(1).std()
        loss.backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, missing

    def test_folding_batchnorm_keeps_the_evaluation_output(self, name):
        model = self.make(name).eval()
        with torch.no_grad():  # trained-looking statistics, so that folding has something to change
            for module in model.modules():
                if isinstance(module, torch.nn.BatchNorm2d):
                    module.running_mean.uniform_(-0.5, 0.5)
                    module.running_var.uniform_(0.5, 2.0)
        x = torch.rand(*CASES[name][1][-1])
        folded, count = fold_batchnorm(model, x)
        with torch.inference_mode():
            torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)
        norms = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
        assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules()) == norms - count
        if name == "deeplabv3plus":
            assert count > 0 and norms - count == 0  # every BatchNorm of the DeepLab follows a convolution

    def test_same_seed_same_output(self, name):
        x = torch.rand(*CASES[name][1][0])
        outputs = []
        for _ in range(2):
            model = self.make(name)
            torch.manual_seed(1)  # dropout draws
            outputs.append(model(x))
        torch.testing.assert_close(outputs[0], outputs[1])


@pytest.mark.parametrize("name", ["s3net", "s3net-stn"])
def test_s3net_options(name):
    half = create_model(name, channels=8, num_blocks=1, stem_stride=2, num_clusters=5)
    assert half(torch.rand(1, 3, 32, 32)).shape == (1, 5, 32, 32)
    _, extras = half.forward_with_extras(torch.rand(1, 3, 32, 32))
    assert extras["aux"].shape == (1, 5, 16, 16) and ("theta" in extras) == (name == "s3net-stn")
    with pytest.raises(ValueError, match="stem_stride 1 or 2"):
        create_model(name, channels=8, stem_stride=4)


def test_deeplab_checks():
    model = create_model("deeplabv3plus")
    with pytest.raises(ValueError, match="divisible by 16, got 30x32"):
        model(torch.rand(2, 3, 30, 32))
    assert isinstance(model.net.segmentation_head[0], torch.nn.Dropout2d)
    with pytest.raises(UsageError, match="--encoder 'no-such-encoder' is not an encoder"):
        create_model("deeplabv3plus", encoder="no-such-encoder")
    with pytest.raises(UsageError, match="--encoder-weights must be none, imagenet"):
        create_model("deeplabv3plus", encoder_weights="/nowhere/weights.pt")


def test_deeplab_input_norm_makes_it_blind_to_a_cameras_brightness_contrast_and_colour_cast():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 32, 32) * 0.6 + 0.2
    relit = x * torch.tensor([0.6, 0.8, 1.3]).view(1, 3, 1, 1) + 0.05  # per-channel gain and offset
    change = {}
    for norm in ("image", "none"):
        model = create_model("deeplabv3plus", input_norm=norm).eval()
        seen: list[torch.Tensor] = []
        model.encoder.register_forward_pre_hook(lambda module, args, seen=seen: seen.append(args[0]))
        with torch.no_grad():
            model(x), model(relit)
        change[norm] = float((seen[1] - seen[0]).abs().max() / seen[0].abs().max())
    assert change["image"] < 0.05 < 0.2 < change["none"]  # what the encoder sees, up to the 1e-2 for flat images
    with pytest.raises(UsageError, match="input_norm must be 'image' or 'none'"):
        create_model("deeplabv3plus", input_norm="batch")


def test_deeplab_never_downloads_imagenet_weights():
    with pytest.raises(DataError, match="not in the local cache and medsegkit does not download"):
        create_model("deeplabv3plus", encoder_weights="imagenet")


def test_unknown_model_and_attention_names():
    with pytest.raises(UsageError, match="unknown model 'nope'; known: .*s3net, s3net-stn"):
        create_model("nope")
    with pytest.raises(UsageError, match="unknown attention 'no-such-attention'; known: .*ilka"):
        create_model("s3net", attention="no-such-attention", channels=8)
