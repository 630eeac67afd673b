"""Scale-out: `torchrun` with 2 CPU processes (gloo) against a single process, for `adapt` and `cluster`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from medsegkit.data.imageio import read_labels
from medsegkit.data.prepare import prepare
from medsegkit.runtime.distributed import Context, GlooSyncBatchNorm, epoch_indices, global_share, wrap


def medsegkit(*args: str, procs: int = 1, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh process, under `torchrun --standalone` when ``procs`` > 1 (one thread each)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "160"}
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(key, None)
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}"]
        if procs > 1
        else [sys.executable]
    )
    done = subprocess.run(
        [*launcher, "-m", "medsegkit", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_epoch_shares_cover_the_single_process_batches():
    n, world, batch = 10, 2, 3
    single = epoch_indices(n, Context(), seed=4, epoch=2)
    assert sorted(single) == list(range(n))
    shares = [epoch_indices(n, Context(rank=r, world_size=world), seed=4, epoch=2) for r in range(world)]
    assert len(shares[0]) == len(shares[1]) == 5
    assert set(shares[0]) | set(shares[1]) == set(range(n))
    for step in range(2):  # step s of W processes with batch b == step s of one process with batch W*b
        together = {i for share in shares for i in share[step * batch : (step + 1) * batch]}
        assert together == set(single[step * world * batch : (step + 1) * world * batch])
    assert epoch_indices(n, Context(), seed=4, epoch=3) != single


def test_single_process_is_untouched():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    assert wrap(model, Context()) is model
    assert global_share(torch.tensor(7.0), Context()) == 1.0


@pytest.mark.numeric
def test_gloo_sync_batchnorm_without_a_group_is_batchnorm_and_shares_parameters():
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    weight = plain[1].weight
    optimiser = torch.optim.SGD(plain.parameters(), lr=0.1)
    x = torch.randn(2, 3, 8, 8)
    expected = plain(x)
    converted = GlooSyncBatchNorm.convert(plain)
    assert isinstance(converted[1], GlooSyncBatchNorm) and converted[1].weight is weight
    torch.testing.assert_close(converted(x), expected)
    # a loss whose weight gradient is far from zero (that of a plain sum is zero: normalised values sum to 0)
    (converted(x) * torch.linspace(-1, 1, expected.numel()).reshape(expected.shape)).sum().backward()
    assert weight.grad.abs().min() > 0.1
    before = weight.detach().clone()
    optimiser.step()  # the optimiser made before the conversion still updates the converted layer
    assert (weight.detach() - before).abs().min() > 0.01


@pytest.mark.numeric
def test_gloo_sync_batchnorm_gradcheck(monkeypatch):
    """Float64 gradients of the synchronised path (two-pass statistics through the differentiable all-reduce),
    with the collective replaced by the identity: one rank holding the whole batch."""
    import medsegkit.runtime.distributed as module

    monkeypatch.setattr(module.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(module.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(module.dist_fn, "all_reduce", lambda t: t.clone())
    layer = GlooSyncBatchNorm(3).double().train()
    x = torch.randn(4, 3, 3, 2, dtype=torch.float64, requires_grad=True)
    expected = nn.functional.batch_norm(x, None, None, layer.weight, layer.bias, training=True, eps=layer.eps)
    torch.testing.assert_close(layer(x), expected)  # the sync path really ran and is batch norm
    # gradcheck perturbs the tensors it is given in place: weight and bias are the layer's own parameters
    assert torch.autograd.gradcheck(lambda inp, w, b: layer(inp), (x, layer.weight, layer.bias), eps=1e-6, atol=1e-5)


def weigh(y: torch.Tensor, first: int) -> torch.Tensor:
    """A loss that differs per image (images ``first``, ``first + 1``, ...), so the gradients are not trivial."""
    w = torch.arange(first, first + y.shape[0], dtype=y.dtype).view(-1, 1, 1, 1) + torch.linspace(
        0, 1, y[0].numel(), dtype=y.dtype
    ).view(y[0].shape)
    return (y * w.cos()).sum()


def _sync_bn_worker(rank: int, store: str, x: torch.Tensor, out: str) -> None:
    torch.distributed.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    torch.manual_seed(0)
    net = GlooSyncBatchNorm.convert(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))).double()
    part = x[rank * 3 : (rank + 1) * 3]
    y = net(part)
    weigh(y, rank * 3).backward()
    torch.save({"y": y.detach(), "grads": [p.grad for p in net.parameters()], "running": net[1].running_var}, out)
    torch.distributed.destroy_process_group()


def test_gloo_sync_batchnorm_over_two_processes_is_whole_batch_batchnorm(tmp_path):
    """Forward, gradients and running statistics of 2 x 3 images equal one BatchNorm2d over 6 (float64)."""
    x = torch.randn(6, 3, 9, 9, dtype=torch.float64)
    outs = [str(tmp_path / f"rank{r}.pt") for r in range(2)]
    ctx = torch.multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_sync_bn_worker, args=(r, str(tmp_path / "store"), x, outs[r])) for r in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    parts = [torch.load(o) for o in outs]
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).double()
    y = net(x)
    (weigh(y[:3], 0) + weigh(y[3:], 3)).div(2).backward()  # DDP averages the two processes' gradients
    torch.testing.assert_close(torch.cat([p["y"] for p in parts]), y.detach())
    for i, param in enumerate(net.parameters()):
        torch.testing.assert_close((parts[0]["grads"][i] + parts[1]["grads"][i]) / 2, param.grad)
    torch.testing.assert_close(parts[0]["running"], net[1].running_var)


@pytest.fixture(scope="module")
def fundus(tmp_path_factory) -> Path:
    """A source checkpoint without dropout (so a step is deterministic) and a 4-train/4-test target."""
    root = tmp_path_factory.mktemp("ddp")
    source, _ = prepare("synthetic-fundus", None, root / "a", root, {"count": 4, "size": 48})
    prepare("synthetic-fundus", None, root / "b", root, {"count": 8, "size": 48, "style": "b", "test_fraction": 0.5})
    options = "--size 32 --epochs 2 --batch-size 2 --aspp-dropout 0 --head-dropout 0 --out src".split()
    medsegkit("pretrain-source", "--domain", str(source), *options, cwd=root)
    return root


@pytest.mark.slow
def test_adapt_under_torchrun_takes_the_single_process_step(fundus):
    common = [
        "adapt",
        "--from",
        "a",
        "--to",
        "b",
        "--source",
        "src/best.pt",
        "--method",
        "dpl",
        "--epochs",
        "1",
        "--passes",
        "2",
    ]
    one = medsegkit(*common, "--batch-size", "4", "--out", "one", cwd=fundus)
    two = medsegkit(*common, "--batch-size", "2", "--out", "two", procs=2, cwd=fundus)
    assert two.stdout.count("adapted") == one.stdout.count("adapted") > 0  # rank 0 alone prints the table

    a, b = (torch.load(fundus / run / "last.pt", weights_only=False) for run in ("one", "two"))
    assert a["world_size"] == 1 and b["world_size"] == 2
    assert a["history"][0]["loss"] > 0 and a["history"][0]["loss"] == pytest.approx(b["history"][0]["loss"], rel=1e-5)
    # Adam's first moment after one step is 0.1 * gradient: the synchronised gradient is the whole-batch one
    # Adam's first moment after one step is 0.1 x the gradient. The synchronised gradient is the whole-batch
    # one up to float32 rounding, which this barely trained net amplifies to a few percent: the same as
    # swapping torch's BatchNorm kernel for another correct formula in one process (see the float64 test).
    for (i, sa), sb in zip(a["optimiser"]["state"].items(), b["optimiser"]["state"].values(), strict=True):
        ga, gb = sa["exp_avg"].flatten(), sb["exp_avg"].flatten()
        if ga.norm() > 1e-6:
            assert float(ga @ gb / (ga.norm() * gb.norm())) > 0.995, f"parameter {i}"
    close = total = 0
    for key, value in a["model"].items():
        if value.dtype.is_floating_point:
            close += int(torch.isclose(value, b["model"][key], rtol=1e-4, atol=1e-5).sum())
            total += value.numel()
    assert close / total > 0.99
    for run in ("one", "two"):
        assert sorted(p.name for p in (fundus / run / "adapted" / "masks").iterdir()) == [
            f"fundus000{i}.png" for i in range(4, 8)
        ]
    assert (fundus / "two" / "evaluation" / "summary.json").is_file()


@pytest.mark.slow
def test_cluster_under_torchrun_covers_every_image_once_and_merges(tmp_path):
    data, _ = prepare("synthetic-dermoscopy", None, tmp_path / "derm", tmp_path, {"count": 5, "size": 64})
    common = ["cluster", str(data), "--size", "64", "--max-iter", "6", "--set", "channels=8"]
    medsegkit(*common, "--out", "one", cwd=tmp_path)
    medsegkit(*common, "--out", "two", procs=2, cwd=tmp_path)
    one, two = (json.loads((tmp_path / run / "manifest.json").read_text()) for run in ("one", "two"))
    cases = [c["case"] for c in one["cases"]]
    assert len(cases) == 5 and [c["case"] for c in two["cases"]] == cases and two["finished"] == 5
    for case in cases:
        np.testing.assert_array_equal(
            read_labels(tmp_path / "two" / "masks" / f"{case}.png"),
            read_labels(tmp_path / "one" / "masks" / f"{case}.png"),
        )

    # each rank batches its own share (3 and 2 images, in batches of 2): the masks of one at a time
    medsegkit(*common, "--batch", "2", "--out", "batched", procs=2, cwd=tmp_path)
    batched = json.loads((tmp_path / "batched" / "manifest.json").read_text())
    assert batched["finished"] == 5 and sorted(c.get("batch", 1) for c in batched["cases"]) == [1, 2, 2, 2, 2]
    for case in cases:
        same = read_labels(tmp_path / "batched" / "masks" / f"{case}.png") == read_labels(
            tmp_path / "one" / "masks" / f"{case}.png"
        )
        assert same.mean() > 0.99

    # a rank killed part-way: its images are missing; the rerun does only those
    (tmp_path / "two" / "cases" / f"{cases[1]}.json").unlink()
    finished = {c: (tmp_path / "two" / "cases" / f"{c}.json").stat().st_mtime_ns for c in cases if c != cases[1]}
    medsegkit(*common, "--out", "two", procs=2, cwd=tmp_path)
    assert json.loads((tmp_path / "two" / "manifest.json").read_text())["finished"] == 5
    assert {c: (tmp_path / "two" / "cases" / f"{c}.json").stat().st_mtime_ns for c in finished} == finished


@pytest.mark.slow
def test_pretrain_source_under_torchrun_writes_one_run_and_resumes(fundus):
    args = ["pretrain-source", "--domain", "a", "--size", "32", "--batch-size", "2", "--out", "src2"]
    first = medsegkit(*args, "--epochs", "1", procs=2, cwd=fundus)
    assert first.stdout.count("epoch 1:") == 1  # rank 0 alone reports
    medsegkit(*args, "--epochs", "2", "--resume", procs=2, cwd=fundus)
    last = torch.load(fundus / "src2" / "last.pt", weights_only=False)
    assert last["world_size"] == 2 and [h["epoch"] for h in last["history"]] == [1, 2]
    assert json.loads((fundus / "src2" / "history.json").read_text()) == last["history"]
    assert (fundus / "src2" / "best.pt").is_file() and (fundus / "src2" / "config.toml").is_file()


def test_a_broken_torchrun_environment_is_one_clear_line(runner, tmp_path, monkeypatch):
    from medsegkit.cli import app

    data, _ = prepare("synthetic-dermoscopy", None, tmp_path / "derm", tmp_path, {"count": 1, "size": 32})
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    monkeypatch.delenv("MASTER_PORT", raising=False)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = runner.invoke(app, ["cluster", str(data), "--out", str(tmp_path / "out")])
    assert (
        result.exit_code == 2
        and "cannot join the torchrun process group" in result.stderr
        and "MASTER_ADDR" in result.stderr
    )
    assert not (tmp_path / "out").exists()
    monkeypatch.setenv("WORLD_SIZE", "two")
    result = runner.invoke(app, ["cluster", str(data), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "WORLD_SIZE must be a whole number, got 'two'" in result.stderr


@pytest.mark.slow
def test_predict_under_torchrun_covers_every_image_once_and_merges(fundus):
    common = ["predict", "src/best.pt", "b", "--data-root", "."]
    medsegkit(*common, "--out", "p1", cwd=fundus)
    medsegkit(*common, "--out", "p2", procs=2, cwd=fundus)
    one, two = (json.loads((fundus / run / "manifest.json").read_text()) for run in ("p1", "p2"))
    assert one["finished"] == two["finished"] == 8
    assert [c["case"] for c in two["cases"]] == [c["case"] for c in one["cases"]]
    for case in one["cases"]:
        np.testing.assert_array_equal(
            read_labels(fundus / "p2" / "masks" / f"{case['case']}.png"),
            read_labels(fundus / "p1" / "masks" / f"{case['case']}.png"),
        )
    assert (fundus / "p2" / "predictions.csv").read_text() == (fundus / "p1" / "predictions.csv").read_text()


@pytest.mark.slow
def test_self_train_under_torchrun_trains_one_model_and_covers_every_image(tmp_path):
    data, _ = prepare("synthetic-dermoscopy", None, tmp_path / "derm", tmp_path, {"count": 4, "size": 48})
    medsegkit("cluster", str(data), "--method", "kmeans", "--size", "48", "--out", "km", cwd=tmp_path)
    fast = ["--steps", "2", "--batch-size", "2", "--encoder-weights", "none", "--set", "size=32"]
    done = medsegkit("self-train", "km", *fast, "--set", "steps_per_epoch=1", "--out", "st", procs=2, cwd=tmp_path)
    assert done.stdout.count("images segmented") == 1  # rank 0 alone reports
    manifest = json.loads((tmp_path / "st" / "manifest.json").read_text())
    assert manifest["finished"] == 4 and manifest["training"]["world_size"] == 2
    assert [h["epoch"] for h in json.loads((tmp_path / "st" / "history.json").read_text())] == [1, 2]
    assert torch.load(tmp_path / "st" / "model.pt", weights_only=False)["task"] == "lesion"
