from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from medsegkit.losses.robust import MaskedGCELoss, generalised_bce

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_small_q_is_the_cross_entropy_and_q_one_the_absolute_error():
    torch.manual_seed(0)
    z, y = torch.randn(64, dtype=torch.float64) * 3, torch.randint(0, 2, (64,)).double()
    bce = F.binary_cross_entropy_with_logits(z, y, reduction="none")
    torch.testing.assert_close(generalised_bce(z, y, 1e-6), bce, rtol=1e-4, atol=1e-5)
    p_t = torch.where(y > 0, torch.sigmoid(z), 1 - torch.sigmoid(z))
    torch.testing.assert_close(generalised_bce(z, y, 1.0), 1 - p_t)


def test_gradient_is_the_cross_entropys_times_p_t_to_the_q():
    """dL_q/dz = p_t^q · dBCE/dz: a label the network finds unlikely pulls less than under the cross-entropy."""
    z = torch.tensor([-4.0, -1.0, 0.0, 2.0, 5.0], dtype=torch.float64, requires_grad=True)
    y = torch.ones_like(z)
    (grad_gce,) = torch.autograd.grad(generalised_bce(z, y, 0.7).sum(), z)
    (grad_bce,) = torch.autograd.grad(F.binary_cross_entropy_with_logits(z, y, reduction="sum"), z)
    torch.testing.assert_close(grad_gce, grad_bce * torch.sigmoid(z).detach() ** 0.7)
    # the confidently contradicted label (z = -4) pulls far less than under the cross-entropy
    assert abs(grad_gce[0]) < 0.2 * abs(grad_bce[0])


def test_gradcheck_in_float64():
    z = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    y = torch.randint(0, 2, (3, 5)).double()
    assert torch.autograd.gradcheck(lambda t: generalised_bce(t, y, 0.7), (z,))


def test_masked_loss_counts_only_kept_pixels():
    logits = torch.tensor([[[[3.0, -3.0], [0.0, 8.0]]]])
    target = torch.tensor([[[[1.0, 0.0], [1.0, 0.0]]]])
    weight = torch.tensor([[[[1.0, 1.0], [0.0, 0.0]]]])
    loss = MaskedGCELoss(q=0.7)(logits, target, weight)
    torch.testing.assert_close(loss, generalised_bce(logits, target, 0.7)[weight > 0].mean())
    assert MaskedGCELoss()(logits, target) > loss  # unmasked, the two poorly fitted pixels count too


@pytest.mark.parametrize("q", [0.0, -0.5, 1.5])
def test_q_outside_0_1_is_refused(q):
    with pytest.raises(ValueError, match="0 < q <= 1"):
        MaskedGCELoss(q=q)
