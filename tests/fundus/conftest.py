from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from medsegkit.cli import app
from medsegkit.data.prepare import prepare


@pytest.fixture(scope="session")
def shift_domains(tmp_path_factory) -> tuple[Path, Path]:
    """(source checkpoint, target dataset): a model trained on synthetic fundus style a, a style-b target.

    The source images are deleted once the checkpoint exists: refine and adapt must not need them.
    """
    root = tmp_path_factory.mktemp("domains")
    source, _ = prepare("synthetic-fundus", None, root / "a", root, {"count": 4, "size": 48})
    target, _ = prepare("synthetic-fundus", None, root / "b", root, {"count": 6, "size": 48, "style": "b"})
    tiny = "--size 32 --epochs 1 --batch-size 2".split()
    made = CliRunner().invoke(app, ["pretrain-source", "--domain", str(source), *tiny, "--out", str(root / "src")])
    assert made.exit_code == 0, made.output
    shutil.rmtree(source)
    return root / "src" / "best.pt", target
