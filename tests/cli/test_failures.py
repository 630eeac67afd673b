"""What a user meets when things go wrong: one `error:` line, the right exit code, nothing half-written."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.prepare import prepare
from tests.conftest import save


@pytest.fixture(scope="module")
def derm(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("derm")
    out, _ = prepare("synthetic-dermoscopy", None, root / "derm", root, {"count": 4, "size": 48})
    return out


def one_error_line(result, code: int) -> str:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["clustr", "x"], "No such command 'clustr'"),
        (["cluster"], "Missing argument 'dataset'"),
        (["cluster", "x", "--bogus"], "No such option: --bogus"),
        (["plugins", "list", "--format", "xml"], "Invalid value for '--format'"),
        (["adapt", "--from", "a", "--to", "b", "--loss", "self-label"], "unknown loss 'self-label'; known: focal-bce"),
        (["cluster", "x", "--set", "scale=1.0"], "scale expects 2 comma-separated values, got '1.0'"),
        (["pretrain-source", "--domain", "x", "--set", "size=33"], "size must be a multiple of 16"),
        (["adapt", "--from", "nowhere", "--to", "b"], "no source checkpoint at runs/source-nowhere/best.pt"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(runner, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(runner.invoke(app, args), 2)
    assert message in line
    assert not list(tmp_path.iterdir())  # refused before anything was written


def test_adapt_without_a_source_checkpoint_says_what_to_run(runner, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    line = one_error_line(runner.invoke(app, ["adapt", "--from", "drishti-gs", "--to", "origa"]), 2)
    assert "medsegkit pretrain-source --domain drishti-gs" in line and "--source" in line


def test_a_plugin_loss_that_fails_to_import_stops_adapt_before_any_work(runner, fake_dist, tmp_path, monkeypatch):
    fake_dist(
        "bad-loss",
        "[medsegkit.losses]\nbad = bad_loss_mod:Loss\n",
        {"bad_loss_mod": "raise ImportError('no such thing')\n"},
    )
    checkpoint = tmp_path / "src" / "best.pt"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b"not read")
    monkeypatch.chdir(tmp_path)
    line = one_error_line(
        runner.invoke(app, ["adapt", "--from", "a", "--to", "b", "--source", str(checkpoint), "--loss", "bad"]), 1
    )
    assert "loss 'bad' from 'bad-loss'" in line and "no such thing" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site", "src"]  # site: the fake plugin's install


def test_an_output_folder_that_cannot_be_written_is_one_line(runner, derm, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("a file, not a folder")
    line = one_error_line(
        runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "32", "--out", str(blocker / "run")]), 1
    )
    assert str(blocker) in line


def test_an_immutable_output_folder_is_one_line(runner, derm, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(locked)], capture_output=True).returncode:
        pytest.skip("chattr +i is not available here")
    try:
        if os.access(locked, os.W_OK) and _can_write(locked):
            pytest.skip("the immutable flag is not enforced on this file system")
        line = one_error_line(
            runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "32", "--out", str(locked / "run")]), 1
        )
        assert str(locked / "run") in line
    finally:
        subprocess.run(["chattr", "-i", str(locked)], check=False)


def _can_write(folder: Path) -> bool:
    try:
        (folder / ".probe").write_text("x")
    except OSError:
        return False
    (folder / ".probe").unlink()
    return True


def _limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (300, 300))


@pytest.mark.parametrize("verb", ["cluster", "prepare", "evaluate", "export"])
def test_a_full_disk_is_one_line_and_leaves_nothing_half_written(derm, tmp_path, verb):
    """A file-size limit (``ulimit -f``) makes writes fail with EFBIG, as a full disk does."""
    out = tmp_path / "out"
    args = {
        "cluster": ["cluster", str(derm), "-m", "kmeans", "--size", "32", "--out", str(out)],
        "prepare": ["prepare", "synthetic-dermoscopy", "--count", "2", "--size", "48", "--out", str(out)],
        "evaluate": ["evaluate", str(derm), "--gt", str(derm), "--split", "all", "--out", str(out)],
        "export": ["export", str(derm), "--format", "monai", "--out", str(out)],
    }[verb]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "medsegkit", *args], capture_output=True, text=True, env=env, preexec_fn=_limit_file_size
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if " done (" not in line]  # plain progress lines
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in done.stderr, done.stderr
    assert "File too large" in lines[0] or "cannot write" in lines[0]
    assert str(tmp_path) in lines[0]  # the file that could not be written is named
    leftovers = [p for p in tmp_path.rglob("*") if ".tmp-" in p.name]
    assert not leftovers
    if verb in ("prepare", "export"):
        assert not out.exists()  # a dataset or an export appears whole or not at all


def test_batch_cluster_goes_on_past_a_bad_image_and_lists_it(runner, tmp_path):
    images = tmp_path / "images"
    for i in range(3):
        save(images / f"case{i}.png", np.random.default_rng(i).integers(0, 256, (40, 40, 3), dtype=np.uint8))
    (images / "case1.png").write_bytes(b"\x89PNG broken")
    out = tmp_path / "run"
    args = ["cluster", str(images), "-m", "kmeans", "--size", "32", "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "2/3 images done" in result.stdout
    assert "1 image(s) could not be read" in result.stderr and "failed.csv" in result.stderr
    failed = (out / "failed.csv").read_text().splitlines()
    assert failed[0] == "case,image,reason" and failed[1].startswith("case1,") and "cannot read image" in failed[1]
    assert sorted(p.stem for p in (out / "masks").glob("*.png")) == ["case0", "case2"]

    stop = runner.invoke(app, [*args[:-1], str(tmp_path / "stop"), "--fail-fast"])
    assert stop.exit_code == 1 and "case1.png: cannot read image" in stop.stderr
    assert not (tmp_path / "stop" / "masks" / "case2.png").exists()  # stopped at the bad image

    save(
        images / "case1.png", np.random.default_rng(9).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    )  # the user fixes the file; a rerun does only it
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "3/3 images done" in again.stdout
    assert (out / "failed.csv").read_text().splitlines() == ["case,image,reason"]


def test_outside_a_terminal_progress_is_plain_lines(runner, derm, tmp_path):
    result = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "32", "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("cluster kmeans: ")]
    assert lines[0].startswith("cluster kmeans: 1/4 done") and lines[-1].startswith("cluster kmeans: 4/4 done")
    assert "━" not in result.stderr  # no bar characters in a log file
    assert "on cpu" in result.stdout  # --device auto resolved and shown (no CUDA here)


def test_help_shows_defaults_from_the_configs_and_no_bool_metavar(runner):
    from medsegkit.fundus.config import AdaptConfig, SourceConfig
    from medsegkit.lesion.config import KMeansConfig, S3Config

    wide = {"COLUMNS": "250"}
    cluster = runner.invoke(app, ["cluster", "--help"], env=wide).output
    assert f"s3, s3-stn optimiser steps ({S3Config().max_iter};" in cluster
    assert f"kmeans Lloyd iterations ({KMeansConfig().max_iter})" in cluster
    assert "<bool>" not in cluster and "--fail-fast" in cluster
    assert (
        f"Training epochs ({SourceConfig().epochs})"
        in runner.invoke(app, ["pretrain-source", "--help"], env=wide).output
    )
    adapt = runner.invoke(app, ["adapt", "--help"], env=wide).output
    assert f"Adaptation epochs ({AdaptConfig().epochs})" in adapt and "<bool>" not in adapt


def test_piped_output_keeps_paths_and_table_rows_whole(derm, tmp_path):
    """stdout and stderr to pipes (a log file, ``| less``): nothing is wrapped at 80 columns."""
    out = tmp_path / ("a-folder-name-long-enough-to-pass-eighty-columns-" * 2) / "evaluation"
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    args = ["evaluate", str(derm), "--gt", str(derm), "--split", "all", "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "medsegkit", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert f"wrote {out / 'per_case.csv'} and {out / 'summary.json'}" in done.stderr.splitlines()
    title = done.stdout.splitlines()[0]
    assert title.startswith(f"{derm.name} split all") and title.endswith("distances in pixels")
