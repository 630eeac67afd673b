"""Prediction precision (medsegkit.runtime.precision): what auto resolves to, and what bfloat16 autocast changes."""

from __future__ import annotations

import pytest
import torch

from medsegkit.errors import UsageError
from medsegkit.runtime.precision import autocast, native_bf16, resolve_precision

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_auto_is_bf16_exactly_where_the_device_runs_it_natively():
    assert resolve_precision("auto", "cpu") == ("bf16" if native_bf16("cpu") else "fp32")
    assert resolve_precision("fp32", "cpu") == "fp32" and resolve_precision("bf16", "cpu") == "bf16"
    assert not native_bf16("mps")


def test_an_unknown_precision_is_a_usage_error_naming_the_choices():
    with pytest.raises(UsageError, match="auto, fp32, bf16"):
        resolve_precision("fp16", "cpu")


def test_bf16_autocast_runs_convolutions_in_bfloat16_and_fp32_leaves_them():
    conv = torch.nn.Conv2d(3, 4, 3).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        with autocast("fp32", "cpu"):
            assert conv(x).dtype == torch.float32
        with autocast("bf16", "cpu"):
            low = conv(x)
        assert low.dtype == torch.bfloat16
        torch.testing.assert_close(low.float(), conv(x), rtol=0.02, atol=0.02)
