"""What the other verbs do with a reviewed run: self-train trusts reviewed masks fully and leaves excluded images
out of training, export keeps reviewed images and never excluded ones, report marks both."""

from __future__ import annotations

import json

from medsegkit.cli import app
from medsegkit.lesion.review.decisions import Decision
from medsegkit.lesion.review.run import ReviewRun
from medsegkit.lesion.selftrain import train as selftrain
from medsegkit.lesion.selftrain.teacher import read_teacher

FAST = ["--steps", "4", "--batch-size", "2", "--encoder-weights", "none", "--set", "size=32"]


def reviewed(run):
    review = ReviewRun(run, reviewer="ana")
    first, second = review.order[:2]
    review.decide(Decision(first, "accept"))
    review.decide(Decision(second, "exclude"))
    return first, second, review.order[2:]


def test_self_train_trusts_reviewed_masks_and_leaves_excluded_images_out(run, runner, tmp_path, monkeypatch):
    first, second, rest = reviewed(run)
    teachers = {t.case: t for t in read_teacher(run)}
    assert teachers[first].confidence == 1.0 and teachers[first].source == "reviewed"
    assert not teachers[second].teaches and all(teachers[c].teaches for c in rest)
    seen = []
    original = selftrain.train

    def spy(taught, *args, **kwargs):
        seen.extend(t.case for t in taught)
        return original(taught, *args, **kwargs)

    monkeypatch.setattr(selftrain, "train", spy)
    done = runner.invoke(app, ["self-train", str(run), "--out", str(tmp_path / "st"), *FAST, "--no-combine"])
    assert done.exit_code == 0, done.output
    assert sorted(seen) == sorted([first, *rest])  # the excluded image is not trained on
    records = {r["case"]: r for r in json.loads((tmp_path / "st" / "manifest.json").read_text())["cases"]}
    assert len(records) == 2 + len(rest)  # ... but it is predicted
    assert records[first]["mask_source"] == "teacher" and records[first]["source"] == "reviewed"  # kept even so
    assert records[second]["mask_source"] == "network" and records[second]["source"] == "excluded"
    mask = (run / "masks" / f"{first}.png").read_bytes()
    assert (tmp_path / "st" / "masks" / f"{first}.png").read_bytes() == mask
    # the self-trained run is reviewable too: the network's cuts and the teacher's mask are its candidates
    assert records[first]["candidates"][0]["source"] == "teacher"
    assert any(c["source"].startswith("network > ") for r in records.values() for c in r["candidates"])
    again = ReviewRun(tmp_path / "st")
    assert len(again.candidates(first)) == len(records[first]["candidates"])
    predicted = runner.invoke(
        app, ["predict", str(tmp_path / "st" / "model.pt"), str(run / "masks"), "-o", str(tmp_path / "p")]
    )
    assert predicted.exit_code == 0, predicted.output
    assert all(ReviewRun(tmp_path / "p").candidates(name) for name in records)


def test_export_keeps_reviewed_images_whatever_their_confidence_and_never_excluded_ones(run, runner, tmp_path):
    first, second, rest = reviewed(run)
    out = tmp_path / "x"
    done = runner.invoke(app, ["export", str(run), "-f", "monai", "-o", str(out), "--min-confidence", "1"])
    assert done.exit_code == 0, done.output
    listed = json.loads((out / "datalist.json").read_text())
    images = [e["image"] for part in ("training", "validation") for e in listed[part]]
    assert images == [f"images/{first}.png"]
    every = runner.invoke(app, ["export", str(run), "-f", "monai", "-o", str(tmp_path / "y")])
    listed = json.loads((tmp_path / "y" / "datalist.json").read_text())
    names = {e["image"] for part in ("training", "validation") for e in listed[part]}
    assert every.exit_code == 0 and f"images/{second}.png" not in names and len(names) == 1 + len(rest)


def test_report_marks_reviewed_and_excluded_cases(run, runner, tmp_path):
    reviewed(run)
    done = runner.invoke(app, ["report", str(run), "--out", str(tmp_path / "r.html")])
    assert done.exit_code == 0, done.output
    page = (tmp_path / "r.html").read_text()
    assert page.count('<b class="reviewed">reviewed</b>') == 2 and page.count('<b class="excluded">excluded</b>') == 2
