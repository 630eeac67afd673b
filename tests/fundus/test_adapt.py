"""`medsegkit adapt` on tiny synthetic domains (a -> b)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from medsegkit.cli import app
from medsegkit.fundus.config import AdaptConfig
from medsegkit.losses.masked import MaskedBCELoss, focal_bce

FAST = "--epochs 1 --batch-size 2 --passes 2 --set head_iters=2 --set radius=1 --set steps=1".split()


@pytest.fixture
def domains(shift_domains) -> tuple[Path, Path]:
    return shift_domains


def test_masked_bce_ignores_dropped_pixels_and_focal_downweights_easy_ones():
    logits = torch.tensor([[[[5.0, -5.0]]]])
    target = torch.tensor([[[[1.0, 1.0]]]])
    keep_first = torch.tensor([[[[1.0, 0.0]]]])
    masked_bce = MaskedBCELoss()
    assert masked_bce(logits, target, keep_first) < 0.01
    assert masked_bce(logits, target, torch.ones_like(target)) > 2
    easy = torch.tensor([[[[3.0]]]])
    ones = torch.ones(1, 1, 1, 1)
    assert focal_bce()(easy, ones, ones) < 0.01 * masked_bce(easy, ones, ones)
    with pytest.raises(ValueError, match="gamma must be >= 0"):
        MaskedBCELoss(gamma=-1)


def test_default_loss_is_the_generalised_ce_and_the_reference_losses_stay_selectable():
    assert AdaptConfig(method="cpr").loss_name == AdaptConfig(method="cpr-cbam").loss_name == "masked-gce"
    assert AdaptConfig().loss is None  # the saved config says the method default was used
    assert AdaptConfig(method="dpl").loss_name == "masked-gce"
    assert AdaptConfig(method="cpr", loss="focal-bce").loss_name == "focal-bce"
    assert AdaptConfig(method="dpl", loss="masked-bce").loss_name == "masked-bce"
    assert AdaptConfig(method="cpr", loss="soft-dice").loss_name == "soft-dice"
    assert AdaptConfig().threshold == 0.75
    with pytest.raises(ValueError, match="threshold must be between 0 and 1, got 1.5"):
        AdaptConfig(threshold=1.5)


@pytest.mark.parametrize("method", ["dpl", "cpr"])
def test_adapt_end_to_end(runner, domains, tmp_path, method):
    checkpoint, target = domains
    out = tmp_path / "run"
    args = [
        *("adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), "--method", method),
        *FAST,
        "--out",
        str(out),
    ]
    result = runner.invoke(app, args, env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "source-only" in result.stdout and "adapted" in result.stdout
    test_ids = json.loads((target / "dataset.json").read_text())["splits"]["test"]
    for run in ("source-only", "adapted"):
        assert sorted(p.stem for p in (out / run / "masks").glob("*.png")) == sorted(test_ids)
    summary = json.loads((out / "evaluation" / "summary.json").read_text())
    assert set(summary["runs"]) == {"source-only", "adapted"}
    assert {"disc", "cup"} <= set(summary["runs"]["adapted"]["structures"])
    assert json.loads((out / "refine" / "manifest.json").read_text())["config"]["method"] == method
    check = json.loads((out / "check.json").read_text())  # the label-free check chose the output model
    assert check["output"] in ("adapted", "source") and check["output"] == ("adapted" if check["helped"] else "source")
    assert f"label-free check: {check['reason']}" in result.stdout
    assert torch.load(out / "model.pt", weights_only=False)["output"] == check["output"]
    predicted = runner.invoke(app, ["predict", str(out / "model.pt"), str(target), "--out", str(tmp_path / "p")])
    assert predicted.exit_code == 0, predicted.output  # the output model predicts like any checkpoint

    refined_at = (out / "refine" / "manifest.json").stat().st_mtime_ns
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "pass --resume" in again.stderr
    more = runner.invoke(app, [*args[:-2], "--epochs", "2", "--out", str(out), "--resume"])
    assert more.exit_code == 0, more.output
    assert [h["epoch"] for h in json.loads((out / "history.json").read_text())] == [1, 2]
    assert (out / "refine" / "manifest.json").stat().st_mtime_ns == refined_at  # refine is not redone


def test_the_teacher_labels_only_the_pixels_it_is_sure_of():
    from medsegkit.fundus.adapt import teacher_labels

    # pixels: sure cup, sure rim, unsure disc, sure background
    prob = torch.tensor([[[[0.9, 0.1, 0.1, 0.05]], [[0.95, 0.9, 0.6, 0.1]]]])
    labels, sure = teacher_labels(lambda x: torch.logit(prob), torch.zeros(1, 3, 1, 4), 0.75)
    assert labels.tolist() == [[[[1, 0, 0, 0]], [[1, 1, 0, 0]]]]
    assert sure.tolist() == [[[[1, 1, 1, 1]], [[1, 1, 0, 1]]]]


def test_adapt_with_a_mean_teacher(runner, domains, tmp_path):
    checkpoint, target = domains
    out = tmp_path / "ema"
    base = ["adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), "--method", "dpl", *FAST]
    result = runner.invoke(app, [*base, "--ema", "0.9", "--keep-adapted", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "ema = 0.9" in (out / "config.toml").read_text()
    last = torch.load(out / "last.pt", weights_only=False)
    teacher = {k.removeprefix("module."): v for k, v in last["teacher"].items() if k.startswith("module.")}
    output = torch.load(out / "model.pt", weights_only=False)["model"]
    assert output.keys() == last["model"].keys() == teacher.keys()
    assert all(torch.equal(output[k], teacher[k]) for k in output)  # the teacher is the adapted model
    moved = [k for k in output if output[k].is_floating_point() and not torch.equal(output[k], last["model"][k])]
    assert moved  # and it lags the student
    more = runner.invoke(app, [*base, "--ema", "0.9", "--epochs", "2", "--resume", "--out", str(out)])
    assert more.exit_code == 0, more.output
    assert int(torch.load(out / "last.pt", weights_only=False)["teacher"]["n_averaged"]) > int(
        last["teacher"]["n_averaged"]
    )
    bad = runner.invoke(app, [*base, "--ema", "1", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "ema must be in [0, 1)" in bad.stderr


def test_adapt_with_another_registered_loss_and_unknown_loss(runner, domains, tmp_path):
    checkpoint, target = domains
    base = ["adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), "--method", "dpl", *FAST]
    ok = runner.invoke(app, [*base, "--loss", "focal-bce", "--out", str(tmp_path / "f")])
    assert ok.exit_code == 0, ok.output
    assert 'loss = "focal-bce"' in (tmp_path / "f" / "config.toml").read_text()
    bad = runner.invoke(app, [*base, "--loss", "no-such-loss", "--out", str(tmp_path / "n")])
    assert bad.exit_code == 2 and "unknown loss 'no-such-loss'; known: " in bad.stderr and "masked-bce" in bad.stderr


def test_adapt_reads_a_config_with_a_refine_table(runner, domains, tmp_path):
    checkpoint, target = domains
    config = tmp_path / "adapt.toml"
    config.write_text('method = "dpl"\nepochs = 1\nbatch_size = 2\n\n[refine]\npasses = 2\nmax_std = 0.2\n')
    out = tmp_path / "run"
    args = ["adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), "--config", str(config)]
    result = runner.invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert 'method = "dpl"' in (out / "config.toml").read_text()
    refined = json.loads((out / "refine" / "manifest.json").read_text())["config"]
    assert refined["method"] == "dpl" and refined["passes"] == 2 and refined["max_std"] == 0.2
    flags = runner.invoke(app, [*args, "--set", "passes=3", "--out", str(tmp_path / "flags")])
    assert flags.exit_code == 0, flags.output
    assert json.loads((tmp_path / "flags" / "refine" / "manifest.json").read_text())["config"]["passes"] == 3


def test_adapt_stops_early_by_the_check_and_outputs_the_best_epoch(runner, domains, tmp_path):
    checkpoint, target = domains
    out = tmp_path / "stop"
    base = ["adapt", "--from", "a", "--to", str(target), "--source", str(checkpoint), "--method", "dpl", *FAST]
    args = [*base, "--epochs", "4", "--patience", "1", "--keep-adapted", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    check = json.loads((out / "check.json").read_text())
    history = json.loads((out / "history.json").read_text())
    best, trained = check["epochs"]["best"], check["epochs"]["trained"]
    scores = [h["check_score"] for h in history]
    assert [h["epoch"] for h in history] == list(range(1, trained + 1))
    assert trained == min(best + 1, 4)  # stopped one epoch after the best, or ran out of epochs
    assert best >= 1 and scores.index(max(scores)) == best - 1  # the first epoch of the highest score
    assert f"early stopping: best epoch {best} of {trained} trained" in result.stdout
    output = torch.load(out / "model.pt", weights_only=False)["model"]
    kept = torch.load(out / "best.pt", weights_only=False)["model"]
    assert all(torch.equal(output[k], kept[k]) for k in output)  # --keep-adapted: the best epoch is the output
    again = runner.invoke(app, [*args[:-2], "--out", str(out), "--resume"])  # a stopped run stays stopped
    assert again.exit_code == 0, again.output
    assert len(json.loads((out / "history.json").read_text())) == trained
    bad = runner.invoke(app, [*base, "--patience", "-1", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "patience must be >= 0" in bad.stderr
