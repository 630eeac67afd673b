"""Losses, created by name through the ``medsegkit.losses`` registry (see :func:`create_loss`).

The registry's losses contract: ``factory(**kwargs)`` builds a callable ``loss(logits, target,
weight=None) -> scalar tensor``. The S3-Net objectives in :mod:`medsegkit.losses.s3` take other
inputs (two predictions and an affine, or the image), so they are not registered as losses.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from medsegkit import contracts, registry


def create_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build the loss registered as ``name``; one that does not take ``(logits, target, weight)`` is a usage error."""
    loss = registry.load("losses", name)(**kwargs)
    contracts.check_loss(name, loss)
    return loss
