"""Folding BatchNorm into convolutions (medsegkit.models.fold): what is folded, what is left alone."""

from __future__ import annotations

import pytest
import torch
from timm.layers import BatchNormAct2d
from torch import nn

from medsegkit.models.fold import fold_batchnorm, inference_copy

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def trained_looking(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.2, 3)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


class Residual(nn.Module):
    """A convolution whose output feeds its BatchNorm and, unnormalised, the sum: not foldable."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm = nn.Conv2d(4, 4, 3, padding=1), nn.BatchNorm2d(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.norm(y) + y


def test_plain_and_timm_norms_are_folded_exactly():
    model = trained_looking(
        nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=8),
            BatchNormAct2d(8, act_layer=nn.ReLU6),
        )
    )
    x = torch.randn(2, 3, 16, 16)
    folded, count = fold_batchnorm(model, x)
    assert count == 2 and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    assert isinstance(folded[4], nn.Sequential) and isinstance(folded[4][1], nn.ReLU6)  # the activation stays
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(folded(-x), model(-x), rtol=1e-5, atol=1e-5)  # not only on the example
    assert isinstance(model[1], nn.BatchNorm2d)  # the original is untouched


def test_a_fold_that_changes_the_output_is_abandoned():
    # the forward pass only sees the convolution feed its BatchNorm, not the sum that also reads its
    # output: folding it is tried, changes the output, and the check on the example batch refuses it
    model = trained_looking(Residual())
    x = torch.randn(1, 4, 8, 8)
    folded, count = fold_batchnorm(model, x)
    assert count == 0 and isinstance(folded.norm, nn.BatchNorm2d) and folded is not model
    with torch.inference_mode():
        torch.testing.assert_close(folded(x), model(x))


def test_inference_copy_is_channels_last_and_in_evaluation_mode():
    model = trained_looking(nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Dropout2d(0.5)))
    model.train()
    ready = inference_copy(model, 16, "cpu")
    assert not ready.training and ready[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert model.training  # the caller's model keeps its mode
