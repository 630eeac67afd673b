from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from medsegkit import __version__
from medsegkit.cli import app


def test_no_args_shows_help(runner):
    result = runner.invoke(app, [])
    assert "Usage" in result.output
    assert "prepare" in result.output and "plugins" in result.output


def test_short_help_and_version(runner):
    assert runner.invoke(app, ["-h"]).exit_code == 0
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_every_prepare_option_is_explained(runner):
    result = runner.invoke(app, ["prepare", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for option in (
        "--out",
        "--data-root",
        "--domain",
        "--crop-size",
        "--resize",
        "--min-experts",
        "--task",
        "--mask-map",
        "--count",
        "--size",
        "--seed",
        "--style",
        "--test-fraction",
        "--opt",
    ):
        assert option in result.output


def test_prepare_synthetic_prints_summary_and_writes_dataset(runner, tmp_path):
    out = tmp_path / "syn"
    result = runner.invoke(
        app, ["prepare", "synthetic-fundus", "--style", "b", "--count", "4", "--size", "48", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "4 (4 with masks)" in result.stdout
    manifest = json.loads((out / "dataset.json").read_text())
    assert manifest["task"] == "fundus" and manifest["source"]["options"]["style"] == "b"


def test_default_out_is_under_data_root(runner, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDSEGKIT_DATA", str(tmp_path / "root"))
    result = runner.invoke(app, ["prepare", "synthetic-dermoscopy", "--count", "2", "--size", "32"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "root" / "synthetic-dermoscopy" / "dataset.json").is_file()
    shown = runner.invoke(app, ["info", "synthetic-dermoscopy"])
    assert shown.exit_code == 0 and "2 (2 with masks)" in shown.stdout


def test_usage_errors_exit_2_with_one_line(runner, tmp_path):
    cases = [
        ["prepare", "no-such-reader", str(tmp_path)],
        ["prepare", "ph2"],
        ["prepare", "synthetic-dermoscopy", str(tmp_path)],
        ["prepare", "ph2", str(tmp_path), "--count", "3"],
        ["prepare", "synthetic-fundus", "--style", "c"],
        ["prepare", "synthetic-dermoscopy", "--size", "8"],
        ["prepare", "folder", str(tmp_path), "--mask-map", "zero"],
        ["prepare", "folder", str(tmp_path), "--opt", "novalue"],
        ["info", "not-prepared", "--data-root", str(tmp_path)],
    ]
    for args in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (args, result.stderr)
        assert "Traceback" not in result.output


def test_runtime_errors_exit_1(runner, tmp_path):
    result = runner.invoke(app, ["prepare", "ph2", str(tmp_path / "missing")])
    assert result.exit_code == 1
    assert "missing: folder not found" in result.stderr


def test_real_process_has_no_traceback_unless_debug(tmp_path):
    env = {**os.environ, "MEDSEGKIT_DATA": str(tmp_path)}
    env.pop("MEDSEGKIT_DEBUG", None)
    cmd = [sys.executable, "-m", "medsegkit", "prepare", "ph2", str(tmp_path / "nowhere")]
    quiet = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert quiet.returncode == 1
    assert quiet.stderr.strip().startswith("error:") and "Traceback" not in quiet.stderr
    loud = subprocess.run(cmd, capture_output=True, text=True, env={**env, "MEDSEGKIT_DEBUG": "1"})
    assert loud.returncode != 0 and "Traceback" in loud.stderr


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "medsegkit"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and __version__ in result.stdout
