"""One tester for every registered model: shape, finite output, gradients, determinism."""

from __future__ import annotations

import pytest
import torch

from medsegkit import registry
from medsegkit.errors import UsageError
from medsegkit.models import create_model

SMALL = dict(channels=8, num_blocks=1)


@pytest.mark.parametrize("name", registry.names("models"))
class TestModel:
    def make(self, name: str, **kwargs) -> torch.nn.Module:
        torch.manual_seed(0)
        return create_model(name, **{**SMALL, **kwargs})

    @pytest.mark.parametrize("shape", [(1, 3, 32, 32), (2, 3, 24, 40)])
    def test_forward_shape_and_finite(self, name, shape):
        out = self.make(name)(torch.rand(*shape))
        assert out.logits.shape == (shape[0], 8, *shape[2:])
        assert torch.isfinite(out.logits).all() and torch.isfinite(out.aux).all()

    def test_every_parameter_gets_a_gradient(self, name):
        model = self.make(name)
        out = model(torch.rand(1, 3, 32, 32))
        (out.logits.softmax(1).std() + out.aux.mean()).backward()
        missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
        assert not missing, missing

    def test_same_seed_same_output(self, name):
        x = torch.rand(1, 3, 32, 32)
        torch.testing.assert_close(self.make(name)(x).logits, self.make(name)(x).logits)

    def test_options(self, name):
        half = self.make(name, stem_stride=2, num_clusters=5)
        assert half(torch.rand(1, 3, 32, 32)).logits.shape == (1, 5, 32, 32)
        with pytest.raises(ValueError, match="stem_stride 1 or 2"):
            self.make(name, stem_stride=4)


def test_unknown_model_and_attention_names():
    with pytest.raises(UsageError, match="unknown model 'nope'; known: .*s3net, s3net-stn"):
        create_model("nope")
    with pytest.raises(UsageError, match="unknown attention 'no-such-attention'; known: .*ilka"):
        create_model("s3net", attention="no-such-attention", **SMALL)
