"""Generalised cross-entropy: a loss that learns less from labels the network confidently contradicts.

Zhang and Sabuncu (NeurIPS 2018) replace ``−log p_t`` by the Box-Cox transform

    L_q(p_t) = (1 − p_t^q) / q,        0 < q ≤ 1,

which tends to the cross-entropy as q → 0 and is the mean absolute error at q = 1. Its gradient is the
cross-entropy's multiplied by ``p_t^q``: a pixel whose label the network finds unlikely (small p_t, as
a wrong label of a teacher that the rest of the data contradicts) pulls with weight ``p_t^q`` instead of
the full ``1/p_t`` of the cross-entropy. ``q = 0.7`` is the paper's setting for noisy labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from medsegkit.losses.masked import masked_mean


def generalised_bce(logits: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    """``(1 − p_t^q) / q`` per element, ``p_t = σ(logits)`` where ``target`` is 1 and ``1 − σ(logits)``
    where it is 0; shapes equal, no reduction. ``p_t^q`` is computed as ``exp(q · log σ(±logits))``.

    Example:
        >>> z, y = torch.tensor([0.0, 20.0, -20.0]), torch.tensor([1.0, 1.0, 1.0])
        >>> [round(v, 4) for v in generalised_bce(z, y, 1.0).tolist()]  # q = 1: the absolute error 1 − p_t
        [0.5, 0.0, 1.0]
    """
    if not 0 < q <= 1:
        raise ValueError(f"the generalised cross-entropy needs 0 < q <= 1, got {q}")
    log_pt = F.logsigmoid(logits * (2 * target - 1))
    return (1 - torch.exp(q * log_pt)) / q


class MaskedGCELoss(nn.Module):
    """``Σ w · L_q(p_t) / Σ w`` (:func:`generalised_bce`): the masked BCE's contract with the noise-robust
    generalised cross-entropy in place of the cross-entropy.

    Shape: logits, target and weight ``(B, S, H, W)`` -> scalar; without ``weight`` every pixel counts.
    """

    def __init__(self, q: float = 0.7) -> None:
        super().__init__()
        generalised_bce(torch.zeros(1), torch.ones(1), q)  # a bad q fails when the loss is built
        self.q = q

    def forward(self, logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        return masked_mean(generalised_bce(logits, target, self.q), weight)
