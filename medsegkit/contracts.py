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
    "clusterers": "a subclass of medsegkit.lesion.clustering.base.Clusterer: segment(image (H, W, 3) uint8, seed) "
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


def check_loaded(kind: str, name: str, obj: Any, base: type | None = None) -> None:
    """Cheap checks on an imported component, before any work: its type, never its call.

    ``base`` is the class a component must subclass (readers and clusterers), passed by the caller that uses
    it, so that this module imports no pipeline; without it a component need only be callable. A model or
    attention component that is a class must be a ``torch.nn.Module``.
    """
    if base is not None:
        if not (isinstance(obj, type) and issubclass(obj, base)):
            raise _broken(kind, name, f"got {obj!r}, not a subclass of {base.__module__}.{base.__qualname__}")
    elif not callable(obj):
        raise _broken(kind, name, f"got a non-callable {type(obj).__name__}")
    if kind in ("models", "attention") and isinstance(obj, type):
        from torch import nn

        if not issubclass(obj, nn.Module):
            raise _broken(kind, name, f"{obj.__qualname__} is a class but not a torch.nn.Module")


def check_built(kind: str, name: str, module: Any) -> Any:
    """``module``, built by a model or attention factory, if it is a ``torch.nn.Module``; else a
    :class:`ContractError` (a factory function cannot be checked before it is called)."""
    from torch import nn

    if not isinstance(module, nn.Module):
        raise _broken(kind, name, f"its factory returned a {type(module).__name__}, not a torch.nn.Module")
    return module


def check_loss(name: str, loss: Any) -> None:
    """A built loss must accept ``(logits, target, weight)`` (an ``nn.Module`` through its ``forward``)."""
    call = loss.forward if callable(getattr(loss, "forward", None)) else loss
    try:
        inspect.signature(call).bind(None, None, None)
    except TypeError as exc:
        raise _broken("losses", name, f"its call takes {inspect.signature(call)}: {exc}") from None
    except ValueError:  # a builtin without an inspectable signature: exercise() decides
        pass


def exercise(kind: str, name: str, obj: Any, base: type | None = None) -> None:
    """Build the component and run it once on tiny inputs; a wrong output is a :class:`ContractError`.
    ``base``: as for :func:`check_loaded`."""
    import numpy as np
    import torch

    try:
        check_loaded(kind, name, obj, base)
        if kind == "models":
            model = check_built(kind, name, obj()).eval()
            with torch.no_grad():
                out = model(torch.rand(2, 3, 64, 64))
            if not (
                isinstance(out, torch.Tensor) and out.ndim == 4 and out.shape[0] == 2 and out.shape[-2:] == (64, 64)
            ):
                raise _broken(kind, name, f"forward returned {_describe(out)}")
        elif kind == "attention":
            out = check_built(kind, name, obj(8))(torch.rand(2, 8, 16, 16))
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
            result = obj().segment(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8), 0)
            if getattr(result, "clusters", np.zeros(0)).shape != (32, 32):
                raise _broken(kind, name, f"segment returned {_describe(result)}")
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
