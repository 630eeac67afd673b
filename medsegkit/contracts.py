"""One contract per registry kind, checked at lookup (:func:`check_loaded`) and exercised by
``medsegkit plugins check`` and the tests (:func:`exercise`).

A component that breaks its kind's contract is a one-line error that names the contract, instead
of a ``TypeError`` deep inside a run.
"""

from __future__ import annotations

import inspect
from typing import Any

from medsegkit.errors import UsageError

CONTRACTS: dict[str, str] = {
    "models": "factory(**kwargs) -> nn.Module whose forward(x (B, 3, H, W)) returns a logits tensor (B, K, H, W); "
    "extra outputs only through an optional forward_with_extras(x) -> (logits, dict of tensors)",
    "attention": "factory(channels: int) -> nn.Module mapping (B, C, H, W) to (B, C, H, W)",
    "losses": "factory() -> loss(logits, target, weight=None) -> scalar tensor, with logits, target and "
    "weight (B, S, H, W)",
    "readers": "a subclass of medsegkit.data.readers.base.DatasetReader",
    "clusterers": "a subclass of medsegkit.lesion.clusterer.Clusterer: segment(image (H, W, 3) uint8, seed) "
    "-> ClusterResult",
}


SINGULAR = {
    "models": "model",
    "attention": "attention",
    "losses": "loss",
    "readers": "reader",
    "clusterers": "clusterer",
}


class ContractError(UsageError):
    """A registered component does not do what its kind promises (exit code 2)."""


def _broken(kind: str, name: str, what: str) -> ContractError:
    return ContractError(f"{SINGULAR[kind]} {name!r} breaks the {kind} contract ({what}); expected {CONTRACTS[kind]}")


def check_loaded(kind: str, name: str, obj: Any) -> None:
    """Cheap checks on an imported component, before any work: its type and its call signature."""
    if kind in ("readers", "clusterers"):
        if kind == "readers":
            from medsegkit.data.readers.base import DatasetReader as base
        else:
            from medsegkit.lesion.clusterer import Clusterer as base
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise _broken(kind, name, f"got {obj!r}")
    elif not callable(obj):
        raise _broken(kind, name, f"got a non-callable {type(obj).__name__}")


def check_loss(name: str, loss: Any) -> None:
    """A built loss must accept ``(logits, target, weight)`` (an ``nn.Module`` through its ``forward``)."""
    call = loss.forward if callable(getattr(loss, "forward", None)) else loss
    try:
        inspect.signature(call).bind(None, None, None)
    except TypeError as exc:
        raise _broken("losses", name, f"its call takes {inspect.signature(call)}: {exc}") from None
    except ValueError:  # a builtin without an inspectable signature: exercise() decides
        pass


def exercise(kind: str, name: str, obj: Any) -> None:
    """Build the component and run it once on tiny inputs; a wrong output is a :class:`ContractError`."""
    import numpy as np
    import torch

    try:
        if kind == "models":
            model = obj().eval()
            with torch.no_grad():
                out = model(torch.rand(2, 3, 64, 64))
            if not (
                isinstance(out, torch.Tensor) and out.ndim == 4 and out.shape[0] == 2 and out.shape[-2:] == (64, 64)
            ):
                raise _broken(kind, name, f"forward returned {_describe(out)}")
        elif kind == "attention":
            out = obj(8)(torch.rand(2, 8, 16, 16))
            if not (isinstance(out, torch.Tensor) and out.shape == (2, 8, 16, 16)):
                raise _broken(kind, name, f"(2, 8, 16, 16) became {_describe(out)}")
        elif kind == "losses":
            loss = obj()
            check_loss(name, loss)
            logits = torch.randn(2, 2, 16, 16, requires_grad=True)
            target = (torch.rand(2, 2, 16, 16) > 0.5).float()
            for weight in (torch.ones(2, 2, 16, 16), None):
                value = loss(logits, target, weight)
                if not (isinstance(value, torch.Tensor) and value.ndim == 0 and torch.isfinite(value)):
                    raise _broken(kind, name, f"returned {_describe(value)}")
            value.backward()
        elif kind == "clusterers":
            check_loaded(kind, name, obj)
            result = obj().segment(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8), 0)
            if getattr(result, "clusters", np.zeros(0)).shape != (32, 32):
                raise _broken(kind, name, f"segment returned {_describe(result)}")
        else:
            check_loaded(kind, name, obj)
    except ContractError:
        raise
    except Exception as exc:
        raise _broken(
            kind, name, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
        ) from exc


def _describe(value: Any) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"
