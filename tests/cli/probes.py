"""The bad inputs and faults a new user meets, as data: each probe is a real ``medsegkit`` command line run in its own
copy of a small workspace, with the exit code and the one ``error:`` line it must end with.

Placeholders in a probe's arguments: ``{ws}`` its own workspace (a copy of the base: datasets, runs, bad files),
``{ro}`` the shared read-only folder (checkpoints, too large to copy for every probe); see
:mod:`tests.cli.workspace`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.cli.workspace import image_removed, live_lock, old_relative_run, stale_lock, without_mask


@dataclass(frozen=True)
class Probe:
    """``args`` must exit with ``code``; unless ``code`` is 0 the last line of stderr is the only ``error:``
    line and contains ``message``. ``setup`` prepares the workspace first; ``cwd`` is relative to it."""

    name: str
    args: str
    code: int
    message: str = ""
    setup: Callable[[Path], None] | None = None
    cwd: str = "."
    writes: tuple[str, ...] = field(default=())  # files the probe may change (beside new ones)


PROBES = [
    # the command line itself (exit 2)
    Probe("misspelt-verb", "clustr x", 2, "No such command 'clustr'"),
    Probe("missing-argument", "cluster", 2, "Missing argument 'dataset'"),
    Probe("unknown-option", "cluster {ws}/derm --bogus", 2, "No such option: --bogus"),
    Probe("bad-choice", "plugins list --format xml", 2, "Invalid value for '--format'"),
    Probe("unknown-kind", "plugins list --kind nope", 2, "unknown component kind 'nope'"),
    # cluster
    Probe("unknown-clusterer", "cluster {ws}/derm -m nope", 2, "unknown clusterer 'nope'"),
    Probe("unknown-attention", "cluster {ws}/derm --attention nope", 2, "unknown attention 'nope'"),
    Probe("size-zero", "cluster {ws}/derm --size 0", 2, "size must be at least 16 pixels"),
    Probe("batch-zero", "cluster {ws}/derm --batch 0", 2, "batch must be at least 1"),
    Probe("set-not-a-pair", "cluster {ws}/derm --set scale=1.0", 2, "scale expects 2 comma-separated values"),
    Probe("set-unknown-key", "cluster {ws}/derm --set bogus=1", 2, "does not take bogus"),
    Probe("kmeans-max-iter-zero", "cluster {ws}/derm -m kmeans --max-iter 0", 2, "max_iter must be at least 1"),
    Probe("shard-out-of-range", "cluster {ws}/derm -m kmeans --shard 3/2", 2, "--shard i/N needs 0 <= i < N"),
    Probe("shard-not-a-pair", "cluster {ws}/derm -m kmeans --shard x", 2, "--shard expects i/N"),
    Probe(
        "refine-without-refinement",
        "cluster {ws}/derm -m kmeans --no-refine-mask --refine margin=0.1",
        2,
        "has no effect",
    ),
    Probe("config-missing", "cluster {ws}/derm --config {ws}/missing.toml", 2, "file not found"),
    Probe("config-not-toml", "cluster {ws}/derm --config {ws}/bad.toml", 2, "not valid TOML"),
    Probe("config-unknown-key", "cluster {ws}/derm -m kmeans --config {ws}/unknown.toml", 2, "no_such_option"),
    Probe("dataset-not-found", "cluster {ws}/nowhere", 2, "not found"),
    Probe("no-images", "cluster {ws}/empty -m kmeans", 1, "no images"),
    Probe("out-is-a-file", "cluster {ws}/derm -m kmeans --size 32 --out {ws}/a-file/run", 1, "a-file"),
    Probe(
        "other-settings", "cluster {ws}/derm -m kmeans --size 48 --out {ws}/km", 2, "holds a run with other settings"
    ),
    Probe(
        "unreadable-image", "cluster {ws}/broken -m kmeans --size 32 --out {ws}/b", 1, "1 image(s) could not be read"
    ),
    Probe(
        "unreadable-image-fail-fast",
        "cluster {ws}/broken -m kmeans --size 32 --out {ws}/b --fail-fast",
        1,
        "case1.png: cannot read image",
    ),
    Probe(
        "locked-by-a-live-process",
        "cluster {ws}/derm -m kmeans --size 32 --out {ws}/km",
        1,
        "another medsegkit process",
        live_lock,
    ),
    Probe(
        "stale-lock-taken-over",
        "cluster {ws}/derm -m kmeans --size 32 --out {ws}/km",
        0,
        setup=stale_lock,
        writes=("km/manifest.json", "km/review.csv", "km/failed.csv", "km/.lock-0-of-1"),
    ),
    Probe(
        "removed-image-rerun",
        "cluster {ws}/broken -m kmeans --size 32 --out {ws}/b",
        0,
        setup=image_removed,
        writes=("b/manifest.json", "b/review.csv", "b/failed.csv", "b/failed/case1.json"),
    ),
    # self-train
    Probe("self-train-not-a-folder", "self-train {ws}/nowhere", 2, "not a folder"),
    Probe("self-train-not-a-run", "self-train {ws}/derm", 1, "not a cluster run"),
    Probe("self-train-unknown-encoder", "self-train {ws}/km --out {ws}/st --encoder nope", 2, "is not an encoder"),
    Probe(
        "self-train-random-weights",
        "self-train {ws}/km --out {ws}/st --encoder-weights {ws}/random.pt",
        1,
        "not a readable state dict",
    ),
    Probe(
        "self-train-truncated-weights",
        "self-train {ws}/km --out {ws}/st --encoder-weights {ws}/trunc.pt",
        1,
        "not a readable state dict",
    ),
    Probe(
        "self-train-missing-weights",
        "self-train {ws}/km --out {ws}/st --encoder-weights {ws}/none.pt",
        2,
        "--encoder-weights must be",
    ),
    Probe("self-train-steps-zero", "self-train {ws}/km --steps 0", 2, "need steps >= 1"),
    Probe("self-train-batch-one", "self-train {ws}/km --batch-size 1", 2, "batch_size >= 2"),
    Probe("self-train-bad-weighting", "self-train {ws}/km --weighting nope", 2, "weighting must be one of"),
    Probe(
        "self-train-resume-nothing", "self-train {ws}/km --out {ws}/st --resume", 2, "holds no training run to continue"
    ),
    Probe("self-train-missing-mask", "self-train {ws}/km --out {ws}/st", 1, "derm0001.png: missing", without_mask),
    # pretrain-source, refine, adapt
    Probe("source-lesion-dataset", "pretrain-source --domain {ws}/derm", 2, "needs a fundus dataset"),
    Probe("source-size", "pretrain-source --domain {ws}/fun --set size=33", 2, "size must be a multiple of 16"),
    Probe(
        "source-resume-nothing",
        "pretrain-source --domain {ws}/fun --size 32 --resume --out {ws}/s",
        2,
        "holds no training run",
    ),
    Probe(
        "source-random-weights",
        "pretrain-source --domain {ws}/fun --size 32 --encoder-weights {ws}/random.pt --out {ws}/s",
        1,
        "not a readable state dict",
    ),
    Probe("source-unknown-dataset", "pretrain-source --domain nowhere", 2, "dataset 'nowhere' not found"),
    Probe("adapt-unknown-loss", "adapt --from a --to b --loss self-label", 2, "unknown loss 'self-label'"),
    Probe("adapt-no-source", "adapt --from nowhere --to {ws}/fun", 2, "no source checkpoint"),
    Probe(
        "adapt-random-source",
        "adapt --from a --to {ws}/fun --source {ws}/random.pt --out {ws}/ad",
        1,
        "not a readable checkpoint",
    ),
    Probe(
        "adapt-truncated-source",
        "adapt --from a --to {ws}/fun --source {ws}/trunc.pt --out {ws}/ad",
        1,
        "not a readable checkpoint",
    ),
    Probe(
        "adapt-lesion-target",
        "adapt --from a --to {ws}/derm --source {ro}/src/best.pt --out {ws}/ad",
        2,
        "needs a fundus target",
    ),
    Probe("refine-random-source", "refine --source {ws}/random.pt --target {ws}/fun", 1, "not a readable checkpoint"),
    Probe("refine-lesion-target", "refine --source {ro}/src/best.pt --target {ws}/derm", 2, "needs a fundus target"),
    # predict
    Probe("predict-random-checkpoint", "predict {ws}/random.pt {ws}/derm", 1, "not a readable checkpoint"),
    Probe("predict-folder-as-checkpoint", "predict {ws}/km {ws}/derm", 1, "a folder; expected a checkpoint file"),
    Probe(
        "predict-threshold",
        "predict {ro}/src/best.pt {ws}/derm --threshold 2",
        2,
        "--threshold must be between 0 and 1",
    ),
    Probe("predict-uncertainty", "predict {ro}/src/best.pt {ws}/derm --uncertainty -1", 2, "--uncertainty >= 0"),
    Probe("predict-precision", "predict {ro}/src/best.pt {ws}/derm --precision fp8", 2, "--precision must be one of"),
    Probe("predict-no-images", "predict {ro}/src/best.pt {ws}/empty --out {ws}/p", 1, "no images"),
    Probe(
        "predict-unreadable-image",
        "predict {ro}/src/best.pt {ws}/broken --out {ws}/p",
        1,
        "1 image(s) could not be read",
    ),
    # evaluate
    Probe(
        "evaluate-other-task",
        "evaluate {ws}/km --gt {ws}/fun --out {ws}/ev",
        2,
        "a lesion run cannot be scored against",
    ),
    Probe(
        "evaluate-no-shared-case",
        "evaluate {ws}/km --gt {ws}/other --split all --out {ws}/ev",
        1,
        "no prediction for any case",
    ),
    Probe(
        "evaluate-other-aspect",
        "evaluate {ws}/wide --gt {ws}/derm --split all --out {ws}/ev",
        1,
        "another aspect ratio",
    ),
    Probe("evaluate-unknown-split", "evaluate {ws}/km --gt {ws}/derm --split nope", 2, "has no split 'nope'"),
    Probe("evaluate-select", "evaluate {ws}/km --gt {ws}/derm --select magic", 2, "select must be"),
    Probe("evaluate-at-size", "evaluate {ws}/km --gt {ws}/derm --at-size 2", 2, "at_size must be at least 8"),
    Probe("evaluate-spacing", "evaluate {ws}/km --gt {ws}/derm --spacing -1", 2, "spacing expects"),
    Probe("evaluate-no-predictions", "evaluate {ws}/empty --gt {ws}/derm", 1, "no prediction files"),
    Probe("evaluate-missing-folder", "evaluate {ws}/nowhere --gt {ws}/derm", 1, "prediction folder not found"),
    Probe(
        "evaluate-missing-case",
        "evaluate {ws}/km --gt {ws}/derm --split all --out {ws}/ev",
        1,
        "some cases have no prediction",
        without_mask,
    ),
    # report
    Probe("report-other-task", "report {ws}/km --gt {ws}/fun", 2, "a lesion run cannot be scored against"),
    Probe("report-no-shared-case", "report {ws}/km --gt {ws}/other", 1, "no prediction for any case"),
    Probe("report-missing-mask", "report {ws}/km", 1, "no mask for 1 case(s)", without_mask),
    Probe("report-labels", "report {ws}/km --label a --label b", 2, "--label given 2 times for 1 runs"),
    Probe("report-max-cases", "report {ws}/km --max-cases 0", 2, "--max-cases must be at least 1"),
    Probe("report-missing-run", "report {ws}/nowhere", 1, "prediction folder not found"),
    Probe("report-old-run-from-elsewhere", "report ../km --out page.html", 0, setup=old_relative_run, cwd="elsewhere"),
    # export
    Probe("export-format", "export {ws}/km --format xml --out {ws}/x", 2, "--format must be one of"),
    Probe(
        "export-validation-above",
        "export {ws}/km --format monai --validation 1.5 --out {ws}/x",
        2,
        "--validation is a share",
    ),
    Probe(
        "export-validation-below",
        "export {ws}/km --format monai --validation -0.5 --out {ws}/x",
        2,
        "--validation is a share",
    ),
    Probe(
        "export-dataset-id",
        "export {ws}/km --format nnunet --dataset-id 1000 --out {ws}/x",
        2,
        "--dataset-id must lie in 1..999",
    ),
    Probe(
        "export-min-confidence",
        "export {ws}/km --format monai --min-confidence 2 --out {ws}/x",
        2,
        "--min-confidence is a confidence",
    ),
    Probe(
        "export-missing-mask", "export {ws}/km --format monai --out {ws}/x", 1, "no mask for 1 case(s)", without_mask
    ),
    Probe("export-nonempty-out", "export {ws}/km --format monai --out {ws}/nonempty", 2, "exists and is not empty"),
    Probe("export-unwritable-out", "export {ws}/km --format monai --out {ws}/a-file/x", 1, "a-file"),
    Probe(
        "export-old-run-from-elsewhere",
        "export ../km --format monai --out x",
        0,
        setup=old_relative_run,
        cwd="elsewhere",
    ),
    # prepare, info, plugins
    Probe("prepare-unknown-reader", "prepare nope {ws}/derm", 2, "unknown reader 'nope'"),
    Probe("prepare-missing-source", "prepare ph2 {ws}/nowhere --out {ws}/p", 1, "folder not found"),
    Probe("prepare-count", "prepare synthetic-dermoscopy --count 0 --out {ws}/p", 2, "count must be at least 1"),
    Probe("prepare-style", "prepare synthetic-fundus --style c --out {ws}/p", 2, "style must be one of"),
    Probe("info-unknown", "info nowhere", 2, "dataset 'nowhere' not found"),
]
