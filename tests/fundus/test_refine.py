"""`medsegkit refine` on tiny synthetic domains: outputs, no source or target labels read, errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from medsegkit.cli import app
from medsegkit.data.imageio import read_labels
from medsegkit.data.prepare import prepare
from medsegkit.fundus.refine import _window

FAST = ["--passes", "2", "--set", "head_iters=3", "--set", "radius=1", "--set", "steps=1", "--set", "head_window=4"]


@pytest.fixture(scope="module")
def domains(shift_domains, tmp_path_factory) -> tuple[Path, Path]:
    checkpoint, target = shift_domains
    unlabelled = tmp_path_factory.mktemp("unlabelled") / "b"
    shutil.copytree(target, unlabelled)
    shutil.rmtree(unlabelled / "masks")  # refine must not need the target's labels
    return checkpoint, unlabelled


@pytest.mark.parametrize("method", ["cpr", "cpr-cbam", "dpl"])
def test_refine_writes_pseudo_labels_for_every_target_train_image(runner, domains, tmp_path, method):
    checkpoint, target = domains
    result = runner.invoke(
        app,
        [
            "refine",
            "--source",
            str(checkpoint),
            "--target",
            str(target),
            "--method",
            method,
            *FAST,
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    cases = [c["case"] for c in manifest["cases"]]
    assert cases == json.loads((target / "dataset.json").read_text())["splits"]["train"]
    assert manifest["config"]["method"] == method
    for case in cases:
        labels = read_labels(tmp_path / "r" / "pseudo" / f"{case}.png")
        weights = read_labels(tmp_path / "r" / "weights" / f"{case}.png")
        assert labels.shape == weights.shape == (48, 48)
        assert set(np.unique(labels)) <= {0, 1, 2} and set(np.unique(weights)) <= {0, 1, 2, 3}
        assert np.load(tmp_path / "r" / "prob" / f"{case}.npz")["prob"].shape == (2, 32, 32)
        assert (tmp_path / "r" / "overlays" / f"{case}.jpg").is_file()
    if method == "dpl":
        assert manifest["fell_back"] == {"cup": 0, "disc": 0} and "refined" not in manifest["cases"][0]
        return
    # the safeguard: a structure keeps its refinement only where the refined labels agree with the
    # prototypes at least as well as the unrefined ones, and the manifest and the output say so
    for case in manifest["cases"]:
        for name in ("cup", "disc"):
            if case["consistency"][name] is None:  # not judged: refinement kept
                assert case["refined"][name]
                continue
            before, after = case["consistency"][name]
            assert case["refined"][name] == (after >= before)
            assert 0 <= before <= 1 and 0 <= after <= 1 and 0 <= case["pseudo_area"][name] <= 1
    fell = {n: sum(not c["refined"][n] for c in manifest["cases"]) for n in ("cup", "disc")}
    assert manifest["fell_back"] == fell
    assert f"disc in {len(cases) - fell['disc']} images" in result.stdout


def test_window_cuts_the_same_window_of_every_map():
    generator = torch.Generator().manual_seed(0)
    grid = torch.arange(100.0).view(1, 1, 10, 10)
    a, b = _window((grid, grid > 50), 4, generator)
    assert a.shape == b.shape == (1, 1, 4, 4)
    torch.testing.assert_close(a > 50, b)  # the same window of both
    assert (a[..., 1:, :] - a[..., :-1, :] == 10).all() and (a[..., 1:] - a[..., :-1] == 1).all()  # contiguous
    assert _window((grid,), 10, generator)[0] is grid  # no larger than the window: the map itself


def test_refine_errors(runner, domains, tmp_path):
    checkpoint, target = domains
    (tmp_path / "bad.pt").write_bytes(b"junk")
    bad = runner.invoke(app, ["refine", "--source", str(tmp_path / "bad.pt"), "--target", str(target)])
    assert bad.exit_code == 1 and "bad.pt: not a readable checkpoint" in bad.stderr
    lesion, _ = prepare("synthetic-dermoscopy", None, tmp_path / "derm", tmp_path, {"count": 2, "size": 32})
    wrong = runner.invoke(app, ["refine", "--source", str(checkpoint), "--target", str(lesion), *FAST])
    assert wrong.exit_code == 2 and "needs a fundus target dataset" in wrong.stderr
    option = runner.invoke(
        app, ["refine", "--source", str(checkpoint), "--target", str(target), "--set", "gamma_low=0.9"]
    )
    assert option.exit_code == 2 and "gamma_low < gamma_high" in option.stderr
