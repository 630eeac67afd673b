from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from medsegkit import registry

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real public data beside the checkout; tests using it skip clearly when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA} (see the README: Data)")
    return SHARED_DATA


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(autouse=True)
def _clean_registry(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("MEDSEGKIT_DISABLE_PLUGINS", raising=False)
    monkeypatch.delenv("MEDSEGKIT_DEBUG", raising=False)
    monkeypatch.delenv("MEDSEGKIT_DATA", raising=False)
    registry.refresh()
    yield
    registry.refresh()


FakeDist = Callable[..., Path]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeDist:
    """Install a fake distribution (dist-info + modules) on sys.path, as `pip install` would."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))

    def make(name: str, entry_points: str, modules: dict[str, str] | None = None) -> Path:
        info = site / f"{name.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))
        for module, source in (modules or {}).items():
            (site / f"{module}.py").write_text(textwrap.dedent(source))
        registry.refresh()
        return site

    return make


def save(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if mode:
        image = image.convert(mode)
    image.save(path)
    return path


def disc_labels(size: int, centre: tuple[int, int], disc_r: int, cup_r: int) -> np.ndarray:
    rows, cols = np.mgrid[0:size, 0:size]
    d = np.hypot(rows - centre[0], cols - centre[1])
    labels = np.zeros((size, size), np.uint8)
    labels[d < disc_r] = 1
    labels[d < cup_r] = 2
    return labels


def rgb(size: int | tuple[int, int], seed: int = 0) -> np.ndarray:
    h, w = (size, size) if isinstance(size, int) else size
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
