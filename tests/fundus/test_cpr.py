"""CPR/DPL building blocks on hand-made cases."""

from __future__ import annotations

import pytest
import torch

from medsegkit.fundus.cpr import (
    SimilarityHead,
    calibrate,
    local_similarity,
    offsets,
    pixel_denoise,
    propagate,
    prototype_agreement,
    prototype_consistency,
    prototypes,
    refinement_safeguard,
    similarity_loss,
)

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread


def test_local_similarity_values_and_borders():
    features = torch.zeros(1, 2, 4, 4)
    features[:, :, :, 2:] = 1.0
    sim = local_similarity(features, radius=1)
    assert sim.shape == (1, 9, 4, 4)
    centre = offsets(1).index((0, 0))
    assert torch.all(sim[:, centre] == 1)
    right = offsets(1).index((0, 1))
    assert sim[0, right, 0, 1] == pytest.approx(torch.exp(torch.tensor(-1.0)).item())  # across the edge
    assert sim[0, right, 0, 0] == 1  # same side
    assert sim[0, right, 0, 3] == 0  # outside the image


def test_refinement_by_a_perfect_similarity_removes_noise():
    torch.manual_seed(0)
    truth = torch.zeros(1, 1, 24, 24, dtype=torch.bool)
    truth[..., 6:18, 6:18] = True
    flip = torch.rand(1, 1, 24, 24) < 0.15
    noisy = (truth ^ flip).float()
    features = truth.float() * 10  # a perfect similarity: 1 within a class, ~0 across
    refined = propagate(noisy, local_similarity(features, 2), radius=2, beta=2.0, steps=4)
    assert ((noisy > 0.5) != truth).sum() > 40
    assert ((refined > 0.5) != truth).sum() == 0


def test_calibration_restores_a_smoothed_small_structure_but_does_not_invent_one():
    prob = torch.zeros(1, 2, 16, 16)
    prob[0, 0, 7:9, 7:9] = 0.95  # a small confident cup
    prob[0, 1, 4, 4] = 0.1  # no disc: a faint blip
    similarity = local_similarity(torch.zeros(1, 1, 16, 16), 2)  # uniform context: pure smoothing
    smoothed = propagate(prob, similarity, radius=2, beta=2.0, steps=4)
    assert smoothed[0, 0].max() < 0.75  # the cup falls below the pseudo-label threshold ...
    calibrated = calibrate(smoothed, prob, 0.75)
    torch.testing.assert_close(calibrated.amax(dim=(-2, -1)), torch.tensor([[0.95, 0.1]]))
    assert (calibrated[0, 0] > 0.75).sum() == 4  # ... calibration brings it back, at its size, at its centre
    assert (calibrated[0, 0, 7:9, 7:9] > 0.75).all()
    assert (calibrated[0, 1] > 0.75).sum() == 0  # the absent disc stays absent
    assert calibrated.min() >= 0 and calibrated.max() <= 1


def test_calibration_keeps_each_pseudo_label_area_and_the_refined_order():
    torch.manual_seed(0)
    unrefined, refined = torch.rand(2, 2, 20, 20), torch.rand(2, 2, 20, 20)
    unrefined[1, 1] = 1.0  # every pixel above the threshold
    calibrated = calibrate(refined, unrefined, 0.75)
    torch.testing.assert_close((calibrated > 0.75).sum(dim=(-2, -1)), (unrefined > 0.75).sum(dim=(-2, -1)))
    assert torch.equal(calibrated.flatten(-2).argsort(-1), refined.flatten(-2).argsort(-1))  # monotone
    torch.testing.assert_close(calibrated.amax(dim=(-2, -1)), unrefined.amax(dim=(-2, -1)))


def test_blurring_then_cutting_at_the_same_threshold_shrinks_a_disc_which_calibration_prevents():
    rows, cols = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    d = ((rows - 15.5) ** 2 + (cols - 15.5) ** 2).sqrt()
    prob = torch.sigmoid((9 - d) * 1.5).view(1, 1, 32, 32)  # a sharp disc of radius 9
    smoothed = propagate(prob, local_similarity(torch.zeros(1, 1, 32, 32), 2), radius=2, steps=4)
    area = int((prob > 0.75).sum())
    assert int((smoothed > 0.75).sum()) < 0.85 * area  # the old cut: a tenth and more of the disc lost
    assert int((calibrate(smoothed, prob, 0.75) > 0.75).sum()) == area


def test_prototypes_and_agreement():
    features = torch.zeros(1, 2, 4, 4)
    features[:, 0, :, :2] = 1.0  # left half: foreground-like feature
    features[:, 1, :, 2:] = 1.0
    pseudo = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    pseudo[..., :2] = True
    pseudo[0, 0, 0, 3] = True  # a wrong pseudo-label on the background side
    reliable = torch.ones_like(pseudo)
    reliable[0, 0, 0, 3] = False
    fg, bg, judged = prototypes([(features, pseudo, reliable)])
    torch.testing.assert_close(fg, torch.tensor([[1.0, 0.0]]))
    torch.testing.assert_close(bg, torch.tensor([[0.0, 1.0]]))
    assert judged.tolist() == [True]
    agree = prototype_agreement(features, pseudo, fg, bg)
    assert not agree[0, 0, 0, 3] and agree.sum() == 15
    # over several images the prototype is the mean over all their reliable pixels, not a mean of means
    other = torch.zeros(1, 2, 4, 4)
    other[:, 0] = 3.0
    split_fg, _, _ = prototypes(
        [(features, pseudo, reliable), (other, torch.ones_like(pseudo), torch.ones_like(pseudo))]
    )
    torch.testing.assert_close(split_fg, torch.tensor([[(8 * 1.0 + 16 * 3.0) / 24, 0.0]]))
    # a structure without reliable background pixels is not judged
    _, _, unjudged = prototypes([(features, torch.ones_like(pseudo), reliable)])
    assert unjudged.tolist() == [False]


def test_prototype_consistency_prefers_labels_that_follow_the_features():
    features = torch.zeros(1, 2, 4, 4)
    features[:, 0, :, :2] = 1.0
    features[:, 1, :, 2:] = 1.0
    fg, bg = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 1.0]])
    right = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    right[..., :2] = True
    shrunk = torch.zeros_like(right)
    shrunk[..., :1] = True
    assert prototype_consistency(features, right, fg, bg).tolist() == [[1.0]]
    assert prototype_consistency(features, shrunk, fg, bg).tolist() == [[0.75]]


def test_the_safeguard_keeps_a_refinement_only_where_it_follows_the_prototypes_at_least_as_well():
    features = torch.zeros(1, 2, 4, 4)
    features[:, 0, :, :2] = 1.0
    features[:, 1, :, 2:] = 1.0
    fg, bg = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    right = torch.zeros(1, 1, 4, 4, dtype=torch.bool)
    right[..., :2] = True
    shrunk = torch.zeros_like(right)
    shrunk[..., :1] = True
    unrefined, refined = torch.cat([shrunk, right], 1), torch.cat([right, shrunk], 1)  # cup improved, disc worse
    keep, before, after = refinement_safeguard(features, unrefined, refined, fg, bg, torch.tensor([True, True]))
    assert keep.tolist() == [[True, False]]
    assert before.tolist() == [[0.75, 1.0]] and after.tolist() == [[1.0, 0.75]]
    keep, _, _ = refinement_safeguard(features, unrefined, refined, fg, bg, torch.tensor([True, False]))
    assert keep.tolist() == [[True, True]]  # a structure without prototypes of both classes is not judged


def test_pixel_denoise_thresholds():
    prob = torch.tensor([0.1, 0.4, 0.41, 0.84, 0.85, 0.99])
    assert pixel_denoise(prob, 0.4, 0.85).tolist() == [True, True, False, False, True, True]
    with pytest.raises(ValueError, match="low < high"):
        pixel_denoise(prob, 0.9, 0.5)


@pytest.mark.parametrize("attention", [None, "cbam"])
def test_similarity_head_trains(attention):
    torch.manual_seed(0)
    labels = torch.zeros(1, 1, 16, 16, dtype=torch.bool)
    labels[..., 4:12, 4:12] = True
    x = torch.randn(1, 8, 16, 16) * 0.5 + labels.float() * torch.linspace(-1, 1, 8).view(1, 8, 1, 1)
    valid = torch.ones_like(labels)
    head = SimilarityHead(8, 16, attention)
    optimiser = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        loss = similarity_loss(local_similarity(head(x), 2), labels, valid, 2)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0]
    sim = local_similarity(head(x), 2)
    right = offsets(2).index((0, 1))
    across = sim[0, right, 4:12, 3].mean()  # background pixel -> lesion pixel on its right
    within = sim[0, right, 6:10, 6:10].mean()
    assert within > across + 0.2


def test_similarity_loss_and_propagation_gradcheck():
    """Float64 gradients of the pair loss (w.r.t. the similarities) and of propagation (w.r.t. both inputs)."""
    torch.manual_seed(4)
    radius = 1
    similarity = (torch.rand(1, 9, 5, 5, dtype=torch.float64) * 0.8 + 0.1).requires_grad_()
    labels = torch.rand(1, 1, 5, 5) > 0.5
    valid = torch.rand(1, 1, 5, 5) > 0.2
    assert torch.autograd.gradcheck(
        lambda s: similarity_loss(s, labels, valid, radius), (similarity,), eps=1e-6, atol=1e-5
    )
    prob = torch.rand(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda p, s: propagate(p, s, radius, beta=2.0, steps=2), (prob, similarity), eps=1e-6, atol=1e-5
    )
