"""Monte-Carlo dropout on hand-made networks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from medsegkit.models.uncertainty import mc_dropout

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_mc_dropout_samples_dropout_and_freezes_batchnorm():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 1))
    model.train()
    x = torch.rand(2, 3, 8, 8)
    before = model[1].running_mean.clone()
    mean, std = mc_dropout(model, x, passes=8)
    assert mean.shape == std.shape == (2, 2, 8, 8) and std.max() > 0
    torch.testing.assert_close(model[1].running_mean, before)  # BN statistics untouched
    assert model.training  # the model's mode is restored
    no_dropout = nn.Sequential(nn.Conv2d(3, 2, 1))
    assert mc_dropout(no_dropout, x, passes=4)[1].max() == 0


def test_mc_dropout_uncertainty_temperature():
    model = nn.Sequential(nn.Conv2d(3, 4, 1), nn.Dropout2d(0.5), nn.Conv2d(4, 2, 1))
    x = torch.rand(2, 3, 8, 8) * 4
    torch.manual_seed(1)
    mean, std = mc_dropout(model, x, passes=8)
    torch.manual_seed(1)
    logits = torch.stack([model.train()(x) for _ in range(8)])
    torch.testing.assert_close(mean, torch.sigmoid(logits).mean(0))
    torch.testing.assert_close(std, torch.sigmoid(logits).std(0, unbiased=False))
    torch.manual_seed(1)
    mean2, std2 = mc_dropout(model, x, passes=8, temperature=2.0)
    torch.testing.assert_close(mean2, mean)  # the pseudo-label probability is not tempered
    torch.testing.assert_close(std2, torch.sigmoid(logits / 2).std(0, unbiased=False))
    assert std2.mean() < std.mean()
    with pytest.raises(ValueError, match="temperature must be positive"):
        mc_dropout(model, x, passes=2, temperature=0)


def test_a_deeplab_is_encoded_once_for_all_passes_with_the_same_result(monkeypatch):
    from medsegkit.models.deeplab import DeepLabV3Plus

    torch.manual_seed(0)
    model = DeepLabV3Plus(encoder="mobilenet_v2").eval()
    x = torch.rand(2, 3, 64, 64)
    calls = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda x: calls.append(1) or encode(x))
    torch.manual_seed(1)
    mean, std = mc_dropout(model, x, passes=4)
    assert len(calls) == 1 and std.max() > 0
    from medsegkit.models import uncertainty

    monkeypatch.setattr(uncertainty, "_splits", lambda model: False)  # every pass runs the whole network
    torch.manual_seed(1)
    whole_mean, whole_std = mc_dropout(model, x, passes=4)
    assert len(calls) == 5
    torch.testing.assert_close(mean, whole_mean, atol=1e-5, rtol=1e-4)  # the same dropout masks, in order
    torch.testing.assert_close(std, whole_std, atol=1e-5, rtol=1e-4)
