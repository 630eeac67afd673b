"""A process takes the cores it owns: --threads, else OMP_NUM_THREADS, else its cores shared among the
torchrun processes of its machine."""

from __future__ import annotations

import pytest
import torch

from medsegkit.errors import UsageError
from medsegkit.runtime import distributed


@pytest.fixture(autouse=True)
def _restore_threads(monkeypatch):
    before = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    monkeypatch.setattr(distributed, "cores_owned", lambda: 8)
    yield
    torch.set_num_threads(before)


def test_flag_then_environment_then_owned_cores(monkeypatch):
    assert distributed.set_threads(3) == 3 and torch.get_num_threads() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert distributed.set_threads() == 2 and torch.get_num_threads() == 2
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert distributed.set_threads() == 8


def test_torchrun_processes_share_the_machine(monkeypatch):
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert distributed.set_threads() == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert distributed.set_threads() == 1  # never zero


def test_bad_thread_count_is_a_usage_error():
    with pytest.raises(UsageError, match="--threads must be at least 1"):
        distributed.set_threads(0)


def test_cli_threads_option(runner, tmp_path):
    from medsegkit.cli import app
    from medsegkit.data.prepare import prepare

    data, _ = prepare("synthetic-dermoscopy", None, tmp_path / "d", tmp_path, {"count": 1, "size": 32})
    result = runner.invoke(
        app, ["cluster", str(data), "-m", "kmeans", "--size", "32", "--threads", "1", "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    assert torch.get_num_threads() == 1
