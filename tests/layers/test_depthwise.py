from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch.autograd import gradcheck

from medsegkit.layers import DepthwiseConv2d, InceptionLKA, depthwise_conv2d

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread

KERNELS = [(3, 1), (5, 1), (5, 2), (7, 3)]  # every depthwise kernel of I-LKA


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize(("k", "d"), KERNELS)
def test_depthwise_gradcheck_float64(k, d, channels_last):
    torch.manual_seed(k + d)
    x = torch.randn(2, 3, 9, 8, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    weight = torch.randn(3, 1, k, k, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda x, w, b: depthwise_conv2d(x, w, b, d), (x.requires_grad_(), weight, bias))


@pytest.mark.parametrize(("k", "d"), KERNELS)
def test_depthwise_equals_plain_conv_forward_and_backward(k, d):
    torch.manual_seed(0)
    x = torch.randn(2, 4, 17, 13)
    weight, bias = torch.randn(4, 1, k, k), torch.randn(4)
    grad = torch.randn(2, 4, 17, 13)
    ours = [t.clone().requires_grad_() for t in (x, weight, bias)]
    ref = [t.clone().requires_grad_() for t in (x, weight, bias)]
    y = depthwise_conv2d(*ours, dilation=d)
    y_ref = F.conv2d(*ref, padding=d * (k - 1) // 2, dilation=d, groups=4)
    torch.testing.assert_close(y, y_ref)
    y.backward(grad)
    y_ref.backward(grad)
    for a, r in zip(ours, ref, strict=True):
        torch.testing.assert_close(a.grad, r.grad, rtol=1e-4, atol=1e-4)


def test_depthwise_without_bias_and_frozen_weight():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(2, 1, 3, 3, dtype=torch.float64)  # no gradient asked for the weight
    assert gradcheck(lambda x: depthwise_conv2d(x, weight, None, 2), (x,))


def test_depthwise_module_is_a_drop_in_conv2d():
    torch.manual_seed(3)
    ours = DepthwiseConv2d(5, 7, dilation=3)
    torch.manual_seed(3)
    plain = torch.nn.Conv2d(5, 5, 7, padding=9, dilation=3, groups=5)
    assert ours.state_dict().keys() == plain.state_dict().keys()
    torch.testing.assert_close(ours.weight, plain.weight)  # same initialisation from the same seed
    x = torch.randn(1, 5, 12, 12)
    torch.testing.assert_close(ours(x), plain(x))


def test_depthwise_rejects_even_or_full_kernels():
    with pytest.raises(ValueError, match="odd kernel"):
        DepthwiseConv2d(3, 4)
    with pytest.raises(ValueError, match=r"\(C, 1, k, k\)"):
        depthwise_conv2d(torch.randn(1, 3, 5, 5), torch.randn(3, 3, 3, 3))


def test_inception_lka_uses_the_fast_depthwise_convolutions():
    layer = InceptionLKA(4)
    assert all(isinstance(m, DepthwiseConv2d) for m in [layer.conv0, *layer.branches])
