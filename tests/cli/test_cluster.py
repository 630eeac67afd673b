"""`medsegkit cluster` end to end on tiny synthetic data: outputs, resume, sharding, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medsegkit.cli import app
from medsegkit.data.dataset import Dataset
from medsegkit.data.imageio import read_labels, read_rgb
from medsegkit.data.images import Shard
from medsegkit.data.prepare import prepare
from medsegkit.errors import UsageError
from medsegkit.lesion.cluster import make_clusterer, run_cluster
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ClusterRunConfig


@pytest.fixture(scope="module")
def derm(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("derm")
    out, _ = prepare("synthetic-dermoscopy", None, root / "derm", root, {"count": 6, "size": 64})
    return out


RUN48 = ClusterRunConfig(size=48, seed=0)


def outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "masks").glob("*.png"))}


def test_kmeans_cluster_then_evaluate(runner, derm, tmp_path):
    result = runner.invoke(
        app, ["cluster", str(derm), "--method", "kmeans", "--size", "48", "--out", str(tmp_path / "km")]
    )
    assert result.exit_code == 0, result.output
    assert "6/6 images done" in result.stdout
    ds = Dataset.open(derm)
    for cid in ds.case_ids():
        mask = read_labels(tmp_path / "km" / "masks" / f"{cid}.png")
        assert mask.shape == (64, 64) and set(np.unique(mask)) <= {0, 1}  # back at the image's size
        assert read_labels(tmp_path / "km" / "clusters" / f"{cid}.png").shape == (64, 64)
        assert read_rgb(tmp_path / "km" / "overlays" / f"{cid}.jpg").shape == (64, 64, 3)
    manifest = json.loads((tmp_path / "km" / "manifest.json").read_text())
    assert manifest["finished"] == 6 and manifest["method"] == "kmeans" and manifest["config"]["num_clusters"] == 2
    assert "num_clusters = 2" in (tmp_path / "km" / "config.toml").read_text()
    scored = runner.invoke(
        app, ["evaluate", str(tmp_path / "km"), "--gt", str(derm), "--split", "all", "--out", str(tmp_path / "ev")]
    )
    assert scored.exit_code == 0, scored.output


def test_resume_after_interruption(derm, tmp_path, monkeypatch):
    method = KMeansClusterer()
    calls: list[int] = []
    original = method.segment

    def flaky(image, seed):
        calls.append(seed)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(image, seed)

    monkeypatch.setattr(method, "segment", flaky)
    with pytest.raises(KeyboardInterrupt):
        run_cluster(derm, tmp_path / "run", "kmeans", method, RUN48)
    done = sorted(p.stem for p in (tmp_path / "run" / "cases").glob("*.json"))
    assert len(done) == 3
    assert not list((tmp_path / "run").rglob(".*tmp*"))  # no half-written file left behind
    calls.clear()
    manifest = run_cluster(derm, tmp_path / "run", "kmeans", method, RUN48)
    assert len(calls) == 3 and manifest["finished"] == 6  # only the unfinished images ran again
    fresh = run_cluster(derm, tmp_path / "fresh", "kmeans", KMeansClusterer(), RUN48)
    assert fresh["finished"] == 6
    assert outputs(tmp_path / "run") == outputs(tmp_path / "fresh")


def test_shards_cover_every_image_once_and_match_a_single_run(derm, tmp_path):
    single = run_cluster(derm, tmp_path / "single", "kmeans", KMeansClusterer(), RUN48)
    seen: list[str] = []
    for i in range(3):
        shard_out = tmp_path / f"shard{i}"
        manifest = run_cluster(derm, shard_out, "kmeans", KMeansClusterer(), RUN48, shard=Shard(i, 3))
        seen += [c["case"] for c in manifest["cases"]]
        for name, data in outputs(shard_out).items():
            assert (tmp_path / "single" / "masks" / name).read_bytes() == data
    assert sorted(seen) == sorted(c["case"] for c in single["cases"]) and len(seen) == len(set(seen)) == 6
    shared = tmp_path / "shared"
    for i in range(2):
        manifest = run_cluster(derm, shared, "kmeans", KMeansClusterer(), RUN48, shard=Shard(i, 2))
    assert manifest["finished"] == 6  # the manifest merges every shard's finished images


def test_shard_parsing(monkeypatch):
    assert Shard.parse("1/4") == Shard(1, 4)
    monkeypatch.setenv("RANK", "2")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert Shard.parse(None) == Shard(2, 3)
    for bad in ("4/4", "x", "1/0"):
        with pytest.raises(UsageError, match="--shard"):
            Shard.parse(bad)


def test_s3_through_the_cli_with_a_toml_config(runner, derm, tmp_path):
    config = tmp_path / "s3.toml"
    config.write_text("channels = 8\nnum_blocks = 1\nmax_iter = 2\nmin_iter = 1\n")
    result = runner.invoke(
        app,
        ["cluster", str(derm), "--config", str(config), "--lr", "0.1", "--size", "32", "--out", str(tmp_path / "s3")],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "s3" / "manifest.json").read_text())
    assert manifest["config"]["channels"] == 8 and manifest["config"]["lr"] == 0.1
    assert all(c["iterations"] <= 2 for c in manifest["cases"])


def test_plain_folder_of_images(runner, derm, tmp_path):
    result = runner.invoke(
        app, ["cluster", str(derm / "images"), "--method", "kmeans", "--size", "32", "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "p" / "masks").glob("*.png"))) == 6


@pytest.mark.filterwarnings("ignore::UserWarning", "ignore::RuntimeWarning")  # k-means++ on a flat image
def test_records_keep_the_selection_score_and_null_without_a_lesion(runner, derm, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    first = sorted((derm / "images").glob("*.png"))[0]
    (folder / "lesion.png").write_bytes(first.read_bytes())
    Image.fromarray(np.full((48, 48, 3), 180, np.uint8)).save(folder / "blank.png")  # no lesion to find
    result = runner.invoke(app, ["cluster", str(folder), "-m", "kmeans", "--size", "32", "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    records = {c: json.loads((tmp_path / "o" / "cases" / f"{c}.json").read_text()) for c in ("lesion", "blank")}
    assert records["lesion"]["selection_score"] > 0 and records["blank"]["selection_score"] is None


def test_errors(runner, derm, tmp_path):
    cases = [
        (["cluster", str(derm), "--method", "magic"], 2, "unknown clusterer 'magic'; known: kmeans, s3, s3-stn"),
        (["cluster", str(derm), "--shard", "3/2"], 2, "--shard i/N needs"),
        (["cluster", str(derm), "--device", "tpu"], 2, "--device must be auto, cpu"),
        (["cluster", str(derm), "--set", "widgets=1"], 2, "does not take widgets"),
        (["cluster", str(tmp_path / "none")], 2, "dataset"),
    ]
    for args, code, message in cases:
        result = runner.invoke(app, args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.stderr, (args, result.stderr)
    first = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "32", "--out", str(tmp_path / "o")])
    assert first.exit_code == 0
    other = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "40", "--out", str(tmp_path / "o")])
    assert other.exit_code == 2 and "holds a run with other settings" in other.stderr


def test_make_clusterer_rejects_a_plugin_that_breaks_the_contract(fake_dist, runner, derm, tmp_path):
    # registered under the group of earlier releases: still found, and still checked
    fake_dist("odd-dist", "[medsegkit.methods]\nodd = odd_mod:Thing\n", {"odd_mod": "class Thing:\n    pass\n"})
    with pytest.raises(UsageError, match="clusterer 'odd' breaks the clusterers contract"):
        make_clusterer("odd", None, {})
    result = runner.invoke(app, ["cluster", str(derm), "-m", "odd", "--out", str(tmp_path / "odd")])
    assert result.exit_code == 2 and result.stderr.startswith("error: clusterer 'odd' breaks")
    assert not (tmp_path / "odd").exists()


def test_mask_refinement_is_recorded_and_can_be_switched_off(runner, derm, tmp_path):
    on, off = tmp_path / "on", tmp_path / "off"
    assert runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(on)]).exit_code == 0
    result = runner.invoke(
        app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(off), "--no-refine-mask"]
    )
    assert result.exit_code == 0, result.output
    refined, plain = (json.loads((d / "manifest.json").read_text()) for d in (on, off))
    assert refined["refine_mask"]["margin"] > 0 and plain["refine_mask"] is None
    # without refinement the mask is the selector's choice; with it, the union the mask was refined from
    # (judged refined, it may be another union); the cluster maps never change
    assert all(c["mask_fraction"] == c["selected_fraction"] for c in plain["cases"])
    assert any(c["mask_fraction"] != c["selected_fraction"] for c in refined["cases"])
    assert {p.name: p.read_bytes() for p in (on / "clusters").glob("*.png")} == {
        p.name: p.read_bytes() for p in (off / "clusters").glob("*.png")
    }
    assert outputs(on) != outputs(off)
    again = runner.invoke(
        app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(on), "--no-refine-mask"]
    )
    assert again.exit_code == 2 and "holds a run with other settings" in again.stderr


def test_review_lists_images_from_least_to_most_confident(runner, derm, tmp_path):
    result = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    records = {c["case"]: c for c in manifest["cases"]}
    assert all(
        0 <= c["confidence"] <= 1 and c["mask_source"] in ("clusterer", "second-opinion") and c["paler"] is False
        for c in records.values()  # the synthetic lesions are darker than their skin
    )
    lines = (tmp_path / "r" / "review.csv").read_text().splitlines()
    assert lines[0] == "case,confidence,agreement,stability,contrast,mask_source,mask_fraction,overlay"
    listed = [line.split(",") for line in lines[1:]]
    assert sorted(row[0] for row in listed) == sorted(records)
    assert [float(row[1]) for row in listed] == sorted(float(row[1]) for row in listed)
    assert all((tmp_path / "r" / row[-1]).is_file() for row in listed)
    plain = runner.invoke(
        app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--no-combine", "--out", str(tmp_path / "n")]
    )
    assert plain.exit_code == 0, plain.output
    assert {c["mask_source"] for c in json.loads((tmp_path / "n" / "manifest.json").read_text())["cases"]} == {
        "clusterer"
    }


def test_cluster_batch_gives_the_masks_of_one_at_a_time(runner, derm, tmp_path):
    config = tmp_path / "s3.toml"
    config.write_text("channels = 8\nnum_blocks = 1\nmax_iter = 3\nmin_iter = 1\n")
    masks = {}
    for batch in (1, 4):  # 6 images: a batch of 4, then one of 2
        out = tmp_path / f"b{batch}"
        args = ["cluster", str(derm), "--config", str(config), "--size", "32", "--batch", str(batch), "--out", str(out)]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["finished"] == 6
        assert all(
            c.get("batch") == (None if batch == 1 else (4 if i < 4 else 2)) for i, c in enumerate(manifest["cases"])
        )
        masks[batch] = [read_labels(out / "masks" / f"{c['case']}.png") for c in manifest["cases"]]
    for a, b in zip(masks[1], masks[4], strict=True):
        assert (a == b).mean() > 0.99
    bad = runner.invoke(app, ["cluster", str(derm), "--batch", "0", "--out", str(tmp_path / "bad")])
    assert bad.exit_code == 2 and "batch must be at least 1" in bad.output


def test_refine_options_are_recorded_checked_and_guard_the_run(runner, derm, tmp_path):
    out = tmp_path / "q"
    base = ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(out)]
    result = runner.invoke(app, [*base, "--refine", "skin_quantile=1", "--refine", "min-pixels=30"])
    assert result.exit_code == 0, result.output
    settings = json.loads((out / "manifest.json").read_text())["refine_mask"]
    assert settings["skin_quantile"] == 1.0 and settings["min_pixels"] == 30 and settings["margin"] > 0
    again = runner.invoke(app, [*base, "--refine", "skin_quantile=0.95"])  # other settings: refused, not mixed
    assert again.exit_code == 2 and "holds a run with other settings" in again.stderr
    # the run's config.toml carries the refinement as a [refine] table: --config reproduces the run
    copy = tmp_path / "copy"
    config = ["--config", str(out / "config.toml")]
    result = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(copy), *config])
    assert result.exit_code == 0, result.output
    assert json.loads((copy / "manifest.json").read_text())["refine_mask"] == settings
    assert outputs(copy) == outputs(out)
    flag_wins = tmp_path / "flag"
    args = ["cluster", str(derm), "-m", "kmeans", "--size", "48", "--out", str(flag_wins), *config]
    assert runner.invoke(app, [*args, "--refine", "skin_quantile=0.95"]).exit_code == 0
    assert json.loads((flag_wins / "manifest.json").read_text())["refine_mask"]["skin_quantile"] == 0.95
    cases = [
        (["--refine", "widgets=1"], "--refine does not take widgets"),
        (["--refine", "skin_quantile=0.2"], "skin_quantile must be in [0.5, 1], got 0.2"),
        (["--refine", "skin_quantile"], "--refine expects key=value"),
        (["--refine", "skin_quantile=0.95", "--no-refine-mask"], "no effect with --no-refine-mask"),
    ]
    for extra, message in cases:
        where = tmp_path / f"bad{len(extra)}{extra[1][:4]}"
        bad = runner.invoke(app, ["cluster", str(derm), "-m", "kmeans", "--out", str(where), *extra])
        assert bad.exit_code == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert not where.exists()
