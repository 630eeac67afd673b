"""Decisions applied to a run folder: masks, the blind masks kept, case records, the manifest, replay and undo."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from medsegkit.cli import app
from medsegkit.data.imageio import read_labels
from medsegkit.engine.candidates import read_candidates
from medsegkit.errors import DataError, UsageError
from medsegkit.imaging import resize_nearest
from medsegkit.lesion.review.decisions import Decision, append
from medsegkit.lesion.review.run import ReviewRun


def record(run, case):
    return json.loads((run / "cases" / f"{case}.json").read_text())


def mask(run, case, folder="masks"):
    return read_labels(run / folder / f"{case}.png")


def test_cluster_keeps_distinct_candidates_the_chosen_mask_first(run):
    for path in sorted((run / "cases").glob("*.json")):
        listed = json.loads(path.read_text())["candidates"]
        found = read_candidates(run, path.stem, len(listed))
        assert 1 <= len(found) <= 6 and len(found) == len(listed)
        blind = mask(run, path.stem)
        assert np.array_equal(resize_nearest(found[0].astype(np.uint8), blind.shape), blind)  # the chosen one first
        assert all(not np.array_equal(a, b) for i, a in enumerate(found) for b in found[:i])


def test_a_picked_candidate_becomes_the_mask_and_the_blind_mask_is_kept(run):
    review = ReviewRun(run, reviewer="ana")
    name = next(n for n in review.order if len(review.cases[n].candidates) >= 2)
    blind = mask(run, name)
    state = review.decide(Decision(name, "candidate", candidate=2))
    assert state.status == "reviewed" and state.candidate == 2 and state.reviewer == "ana"
    second = review.candidates(name)[1]
    assert np.array_equal(mask(run, name), resize_nearest(second.astype(np.uint8), blind.shape))
    assert np.array_equal(mask(run, name, "masks-blind"), blind)
    saved = record(run, name)
    assert saved["source"] == "reviewed" and saved["reviewer"] == "ana" and saved["review"]["candidate"] == 2
    manifest = json.loads((run / "manifest.json").read_text())
    assert next(c for c in manifest["cases"] if c["case"] == name)["source"] == "reviewed"
    assert manifest["review"]["reviewed"] == 1


def test_exclude_keeps_the_blind_mask_and_undo_restores_the_case(run):
    review = ReviewRun(run)
    name = next(n for n in review.order if len(review.cases[n].candidates) >= 2)
    blind, before = mask(run, name), record(run, name)
    review.decide(Decision(name, "candidate", candidate=2))
    review.decide(Decision(name, "exclude"))
    assert np.array_equal(mask(run, name), blind) and record(run, name)["source"] == "excluded"
    assert review.undo_latest() == name  # back to candidate 2
    assert record(run, name)["source"] == "reviewed" and not np.array_equal(mask(run, name), blind)
    review.undo_latest()
    assert np.array_equal(mask(run, name), blind) and record(run, name) == before
    assert review.undo_latest() is None


def test_a_click_builds_a_mask_containing_the_click_and_a_shift_click_grows_it(run):
    review = ReviewRun(run)
    name = review.order[0]
    review.decide(Decision(name, "click", point=(0.5, 0.5)))
    got = mask(run, name)
    assert got[got.shape[0] // 2, got.shape[1] // 2] == 1 and record(run, name)["review"]["choice"] == "click"
    state = review.decide(Decision(name, "click", point=(0.5, 0.5), grow=True))
    assert state.grow and record(run, name)["review"]["grow"] is True
    grown = mask(run, name)
    assert np.array_equal(grown, resize_nearest(review.mask_of(name, state).astype(np.uint8), grown.shape))
    assert '"grow": true' in (run / "review" / "decisions.jsonl").read_text().splitlines()[-1]


def test_a_logged_decision_not_yet_applied_is_applied_when_the_run_is_opened_again(run):
    name = ReviewRun(run).order[0]
    append(run / "review" / "decisions.jsonl", Decision(name, "exclude"))  # killed right after the log
    with open(run / "review" / "decisions.jsonl", "a") as log:
        log.write('{"case": "')  # and a torn line after it
    reopened = ReviewRun(run)
    assert reopened.state(name).status == "excluded" and record(run, name)["source"] == "excluded"


def test_names_never_reach_the_file_system_and_bad_candidates_are_refused(run):
    review = ReviewRun(run)
    with pytest.raises(UsageError, match="unknown case"):
        review.decide(Decision("../../etc/passwd", "accept"))
    name = review.order[0]
    with pytest.raises(UsageError, match="candidate"):
        review.decide(Decision(name, "candidate", candidate=len(review.cases[name].candidates) + 1))


def test_a_run_without_candidates_is_reviewed_with_its_mask_and_cluster_map(run):
    shutil.rmtree(run / "candidates")
    manifest = json.loads((run / "manifest.json").read_text())
    for case in manifest["cases"]:
        case.pop("candidates")
    (run / "manifest.json").write_text(json.dumps(manifest))
    review = ReviewRun(run)
    name = review.order[0]
    assert len(review.candidates(name)) == 1
    assert review.decide(Decision(name, "candidate", candidate=1)).status == "reviewed"
    assert review.decide(Decision(name, "click", point=(0.5, 0.5))).choice == "click"


def test_review_apply_takes_a_file_of_decisions(run, runner, tmp_path):
    names = ReviewRun(run).order
    file = tmp_path / "decisions.jsonl"
    file.write_text(
        "\n".join(
            [
                json.dumps({"case": names[0], "action": "exclude"}),
                json.dumps({"case": names[1], "action": "accept", "reviewer": "bo"}),
            ]
        )
    )
    done = runner.invoke(app, ["review", str(run), "--apply", str(file), "--reviewer", "ana"])
    assert done.exit_code == 0, done.output
    assert "1 reviewed, 1 excluded" in done.stdout
    assert record(run, names[0])["reviewer"] == "ana" and record(run, names[1])["reviewer"] == "bo"
    logged = (run / "review" / "decisions.jsonl").read_text().splitlines()
    assert len(logged) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"case": "nope", "action": "accept"}', "names case 'nope'"),
        ('{"case": "%s", "action": "candidate", "candidate": 8}', "picks candidate 8 of"),
        ("not json", "not a JSON object"),
    ],
)
def test_review_apply_refuses_a_bad_file_before_applying_anything(run, runner, tmp_path, line, message):
    name = ReviewRun(run).order[0]
    file = tmp_path / "d.jsonl"
    file.write_text(json.dumps({"case": name, "action": "exclude"}) + "\n" + (line % name if "%s" in line else line))
    done = runner.invoke(app, ["review", str(run), "--apply", str(file)])
    assert done.exit_code == 1 and message in done.stderr and "Traceback" not in done.output
    assert "source" not in record(run, name) and not (run / "review" / "decisions.jsonl").exists()


def test_review_refuses_a_fundus_run(tmp_path):
    (tmp_path / "masks").mkdir()
    (tmp_path / "manifest.json").write_text(json.dumps({"task": "fundus", "cases": []}))
    with pytest.raises(UsageError, match="review takes lesion runs"):
        ReviewRun(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"task": "lesion", "cases": []}))
    with pytest.raises(DataError, match="no finished case"):
        ReviewRun(tmp_path)
