"""Resuming a training run: which saved configs a run may continue from."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import torch

from medsegkit.errors import UsageError
from medsegkit.runtime.checkpoint import resume_run, save_checkpoint


@dataclass(frozen=True)
class Config:
    lr: float = 0.1
    epochs: int = 2
    added_later: float = 0.0  # an option a run made before it existed ran without
    sizes: tuple[int, int] = (1, 2)


def saved_run(tmp_path, config: dict) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    model = torch.nn.Linear(2, 1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    payload = {"model": model.state_dict(), "optimiser": optimiser.state_dict(), "config": config, "epoch": 1}
    save_checkpoint(tmp_path / "last.pt", payload)
    return model, optimiser


def test_a_run_made_before_an_option_existed_resumes_at_its_default(tmp_path):
    model, optimiser = saved_run(tmp_path, {"lr": 0.1, "epochs": 2, "sizes": [1, 2]})
    state = resume_run(tmp_path, Config(epochs=5), model, optimiser, True, {"epoch": 0})
    assert state == {"epoch": 1}
    with pytest.raises(UsageError, match="another config"):  # the option set otherwise is another run
        resume_run(tmp_path, Config(added_later=0.9), model, optimiser, True, {"epoch": 0})


def test_a_changed_setting_is_refused_and_an_unfinished_folder_needs_resume(tmp_path):
    model, optimiser = saved_run(tmp_path, {"lr": 0.1, "epochs": 2, "added_later": 0.0, "sizes": [1, 2]})
    with pytest.raises(UsageError, match="only --epochs may change"):
        resume_run(tmp_path, Config(lr=0.2), model, optimiser, True, {"epoch": 0})
    with pytest.raises(UsageError, match="pass --resume"):
        resume_run(tmp_path, Config(), model, optimiser, False, {"epoch": 0})
