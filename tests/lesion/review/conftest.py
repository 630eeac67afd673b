from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medsegkit.cli import app
from medsegkit.data.prepare import prepare


@pytest.fixture(scope="session")
def made_run(tmp_path_factory) -> tuple[Path, Path]:
    """(a k-means cluster run of 5 synthetic dermoscopy images, its dataset), made once."""
    root = tmp_path_factory.mktemp("review-run")
    derm, _ = prepare("synthetic-dermoscopy", None, root / "derm", root, {"count": 5, "size": 64})
    done = CliRunner().invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "64", "--out", str(root / "run")])
    assert done.exit_code == 0, done.output
    return root / "run", derm


@pytest.fixture
def run(made_run, tmp_path) -> Path:
    """A fresh copy of the run, for a test to review."""
    shutil.copytree(made_run[0], tmp_path / "run")
    return tmp_path / "run"
