"""Checkpoints of every trained network: atomic saving, one-line errors for unreadable files, resuming a run."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from medsegkit import config as config_module
from medsegkit.errors import DataError, UsageError
from medsegkit.runtime.atomic import write_bytes_atomic, write_text_atomic


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The payload of a checkpoint file; an unreadable file is a one-line error."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        raise DataError(f"{path}: checkpoint not found") from None
    except IsADirectoryError:
        raise DataError(f"{path}: a folder; expected a checkpoint file (best.pt, last.pt or model.pt)") from None
    except Exception as exc:  # unpickling random bytes raises almost anything: ValueError, KeyError, ...
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: not a readable checkpoint ({reason})") from None
    if not isinstance(payload, dict) or "model" not in payload:
        raise DataError(f"{path}: checkpoint does not match: expected a medsegkit checkpoint with a 'model' entry")
    return payload


def apply_checkpoint(path: Path, payload: dict[str, Any], model: torch.nn.Module) -> None:
    try:
        model.load_state_dict(payload["model"])
    except (RuntimeError, KeyError, TypeError) as exc:
        reason = str(exc).splitlines()[0][:200]
        raise DataError(f"{path}: checkpoint does not match the model {type(model).__name__} ({reason})") from None


def check_resume(out: Path, resume: bool, finished: str | None = None) -> None:
    """``--resume`` needs a training run in ``out`` (its ``last.pt``, or the ``finished`` file of a run whose
    training ended); checked before a verb writes anything."""
    if resume and not (out / "last.pt").exists() and not (finished and (out / finished).exists()):
        raise UsageError(f"--resume: {out} holds no training run to continue (no last.pt); run without --resume")


def resume_run(
    out: Path,
    cfg: Any,
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    resume: bool,
    state: dict[str, Any],
    write: bool = True,
) -> dict[str, Any]:
    """Continue the run in ``out`` from ``last.pt`` (``state`` keys restored), or refuse a folder that holds one.
    (Whether ``--resume`` finds a run at all is the verb's check, :func:`check_resume`, made before it writes.)

    Only ``epochs`` may differ from the saved config. Writes ``config.toml`` (when ``write``: rank 0 only);
    returns the state to go on from.
    """
    last = out / "last.pt"
    if last.exists():
        if not resume:
            raise UsageError(
                f"{out} already holds a training run; pass --resume to continue it or choose another --out"
            )
        payload = read_checkpoint(last)
        # an option the run predates was at its default, which keeps the behaviour it had before the option
        saved = {**config_module.defaults(type(cfg)), **payload.get("config", {})}
        saved.pop("epochs", None)
        if saved != {k: v for k, v in config_module.to_dict(cfg).items() if k != "epochs"}:
            raise UsageError(
                f"{last} was trained with another config ({out / 'config.toml'}); only --epochs may change on --resume"
            )
        apply_checkpoint(last, payload, model)
        optimiser.load_state_dict(payload["optimiser"])
        state = {k: payload[k] for k in state}
    if write:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / "config.toml", config_module.to_toml(cfg))
    return state
