"""Losses, created by name through the ``medsegkit.losses`` registry."""

from __future__ import annotations

from typing import Any

from torch import nn

from medsegkit import registry


def create_loss(name: str, **kwargs: Any) -> nn.Module:
    return registry.load("losses", name)(**kwargs)
