"""Models, created by name through the ``medsegkit.models`` registry (see :func:`create_model`)."""

from __future__ import annotations

from typing import Any

from torch import nn

from medsegkit import contracts, registry


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build the model registered as ``name`` with keyword arguments; unknown names list the known ones."""
    return contracts.check_built("models", name, registry.load("models", name)(**kwargs))


def create_attention(name: str, channels: int) -> nn.Module:
    """Build the attention module registered as ``name`` in ``medsegkit.attention`` for ``channels``."""
    return contracts.check_built("attention", name, registry.load("attention", name)(channels))
