"""``medsegkit report``: a self-contained page with settings, metrics, a sortable case table and a gallery."""

from __future__ import annotations

import re
import subprocess

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.prepare import prepare
from tests.browser import FLAGS, chromium


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    from typer.testing import CliRunner

    root = tmp_path_factory.mktemp("page")
    derm, _ = prepare("synthetic-dermoscopy", None, root / "d", root, {"count": 5, "size": 48})
    runner = CliRunner()
    for method in ("kmeans", "s3"):
        extra = ["--max-iter", "6", "--set", "channels=8"] if method == "s3" else []
        made = runner.invoke(
            app, ["cluster", str(derm), "-m", method, "--size", "48", *extra, "--out", str(root / method)]
        )
        assert made.exit_code == 0, made.output
        assert f"medsegkit report {root / method}" in made.stderr  # the verb says how to look at its run
    return root, derm


def test_page_with_ground_truth_has_metrics_cases_and_a_gallery_sorted_worst_first(runner, two_runs):
    root, derm = two_runs
    out = root / "page.html"
    result = runner.invoke(
        app, ["report", str(root / "kmeans"), str(root / "s3"), "--gt", str(derm), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"(src|href)=\"(https?:)?//", page) and "http" not in page  # nothing loaded from elsewhere
    assert "Metrics against the ground truth" in page and "lesion: Dice" in page
    assert "sortTable" in page and "<svg" in page
    assert page.count("<img") == 5 * 3  # ground truth and two runs per case
    assert "&quot;method&quot;: &quot;kmeans&quot;" in page and "medsegkit_version" in page  # settings, versions
    # the gallery lists cases by the first run's Dice, lowest first, as the per-case table computes them
    from medsegkit.data.dataset import Dataset
    from medsegkit.evaluation import EvalSettings, evaluate_run, per_case_frame

    settings = EvalSettings(split="all")
    frame = per_case_frame([evaluate_run(root / "kmeans", Dataset.open(derm), settings)], settings)
    expected = frame.sort_values("dice", kind="stable")["case"].tolist()
    gallery = page[page.index("<h2>Gallery") :]
    shown = re.findall(r"<tr><td>([^<]+)</td><td><img", gallery)
    assert shown == expected


def test_page_without_ground_truth_sorts_by_confidence(runner, two_runs):
    import json

    root, _ = two_runs
    result = runner.invoke(app, ["report", str(root / "s3")])
    assert result.exit_code == 0, result.output
    page = (root / "s3" / "report.html").read_text()
    assert "Metrics against the ground truth" not in page and "lowest confidence of s3 first" in page
    cases = json.loads((root / "s3" / "manifest.json").read_text())["cases"]
    expected = [c["case"] for c in sorted(cases, key=lambda c: c["confidence"])]
    assert re.findall(r"<tr><td>([^<]+)</td><td><img", page) == expected


def test_bad_label_count_is_one_line(runner, two_runs):
    root, _ = two_runs
    result = runner.invoke(app, ["report", str(root / "s3"), "--label", "a", "--label", "b"])
    assert result.exit_code == 2 and "--label given 2 times for 1 runs" in result.stderr


def test_chromium_renders_the_page(runner, two_runs, tmp_path):
    browser = chromium()
    root, derm = two_runs
    runner.invoke(app, ["report", str(root / "kmeans"), "--gt", str(derm), "--out", str(tmp_path / "p.html")])
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            f"file://{tmp_path / 'p.html'}",
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert shot.stat().st_size > 10_000
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    assert pixels.std() > 10  # something was drawn, not a blank page
