"""``medsegkit cluster``: run a clusterer over a folder, resumably, shardably, atomically.

The run folder is a :class:`~medsegkit.engine.casefolder.CaseFolder`::

    settings.json          what a rerun must match (clusterer, size, seed, configs); another is refused
    config.toml            resolved clusterer config, and the colour refinement's as [refine]
    manifest.json          run settings, versions, device and one record per finished image
    clusters/<case>.png    cluster map at the image's original size (uint8, or 16-bit if needed)
    masks/<case>.png       blind lesion mask (0/1) at the original size, colour-refined unless switched off
    candidates/<case>.png  the distinct masks the blind choice scored, the chosen one first (at the working size;
                           :mod:`medsegkit.engine.candidates`), listed with their scores in the case record
    overlays/<case>.jpg    the mask's contour drawn on the image, at most OVERLAY_SIDE pixels on its longer side
    cases/<case>.json      per-image record, written last: its presence marks the image as done
    failed/<case>.json     an image that could not be read, with the reason (removed once it succeeds)
    review.csv             every finished image from least to most confident, with its overlay
    failed.csv             every failed image of the run (case, image, reason), rebuilt with the manifest
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from medsegkit import config as config_module
from medsegkit import registry
from medsegkit.data.dataset import resolve_dataset
from medsegkit.data.imageio import png_bytes, read_rgb
from medsegkit.data.images import Shard, collect_images
from medsegkit.engine.candidates import write_candidates
from medsegkit.engine.casefolder import CaseFolder, header
from medsegkit.engine.overlays import GREEN, write_overlay
from medsegkit.errors import DataError, UsageError
from medsegkit.imaging import resize_nearest, resize_square
from medsegkit.lesion.blind.features import extractor, feature_clusters
from medsegkit.lesion.blind.per_image import SECOND_OPINION, blind_mask
from medsegkit.lesion.clustering.base import Clusterer, ClusterResult
from medsegkit.lesion.config import ClusterRunConfig, ColourRefineConfig, FieldOfViewConfig
from medsegkit.lesion.hair import remove_hair
from medsegkit.runtime import distributed
from medsegkit.runtime.atomic import write_bytes_atomic, write_text_atomic
from medsegkit.runtime.distributed import Context, barrier
from medsegkit.runtime.job import Job, claim
from medsegkit.runtime.lock import run_lock

Progress = Callable[[Iterable[tuple[str, Path]]], Iterator[tuple[str, Path]]]


def case_seed(seed: int, case_id: str) -> int:
    """Seed of one image: independent of sharding and of the order images are processed in."""
    return (seed + zlib.crc32(case_id.encode())) % 2**31


def make_clusterer(name: str, toml_file: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Clusterer:
    """The clusterer registered as ``name``, configured from defaults, ``toml_file`` and ``overrides``."""
    return registry.load("clusterers", name, Clusterer).from_options(name, toml_file, overrides)


def _label_png(labels: np.ndarray) -> bytes:
    if labels.max(initial=0) < 256:
        return png_bytes(labels.astype(np.uint8))
    return png_bytes(labels.astype(np.uint16))


def cluster(
    dataset: str,
    clusterer: str,
    run: ClusterRunConfig,
    job: Job,
    config_file: Path | None = None,
    overrides: dict[str, Any] | None = None,
    shard: str | None = None,
    fail_fast: bool = False,
    refine: dict[str, Any] | None = None,
) -> tuple[Path, dict[str, Any]]:
    """``medsegkit cluster``: everything the verb does, for the CLI and the benchmarks alike.

    ``dataset`` is a prepared dataset (path or name under ``job.data_root``) or a plain folder of images; the
    run folder defaults to ``runs/cluster-<clusterer>-<dataset>``. ``refine`` holds colour-refinement options
    (:class:`ColourRefineConfig` fields, over those of the ``[refine]`` table of ``config_file``; they need
    ``run.refine_mask``). Returns the run folder and its manifest
    (empty on ranks other than 0 under ``torchrun``).
    """
    # bad options are reported before anything is read
    method = make_clusterer(clusterer, config_file, overrides)
    refine_config = colour_refine_config(run, config_file, refine)
    target = Path(dataset)
    if not target.is_dir():
        target = resolve_dataset(dataset, job.data_root)
    target = target.absolute()
    destination = job.destination(Path("runs") / f"cluster-{clusterer.replace(':', '-')}-{target.name}")
    # the session first, so that a broken torchrun environment is reported as such
    with distributed.session(job.device, job.threads) as ctx:
        bar = job.progress if ctx.is_main else None
        manifest = run_cluster(
            target, destination, clusterer, method, run, Shard.parse(shard), bar, ctx, fail_fast, refine_config
        )
    return destination, manifest


def colour_refine_config(
    run: ClusterRunConfig, config_file: Path | None = None, options: dict[str, Any] | None = None
) -> ColourRefineConfig:
    """The colour refinement's config: defaults, the ``[refine]`` table of ``config_file``, then ``options``
    (``--refine``); options given with ``run.refine_mask`` off are a usage error, not silently dropped."""
    if options and not run.refine_mask:
        raise UsageError(f"--refine {', '.join(sorted(options))} has no effect with --no-refine-mask")
    return config_module.load(ColourRefineConfig, config_file, options or {}, "--refine", table="refine")


def run_cluster(
    target: Path,
    out: Path,
    name: str,
    method: Clusterer,
    run: ClusterRunConfig = ClusterRunConfig(),
    shard: Shard = Shard(),
    progress: Progress | None = None,
    ctx: Context | None = None,
    fail_fast: bool = False,
    refine_config: ColourRefineConfig = ColourRefineConfig(),
) -> dict[str, Any]:
    """Cluster every image of ``target`` (this shard's share) not yet finished in ``out``.

    The blind mask is refined by colour models (:func:`refine_mask`, ``refine_config``) unless
    ``run.refine_mask`` is off.
    An image that cannot be read is recorded in ``failed/`` and skipped (``fail_fast``: the error stops
    the run); a rerun tries it again.

    Each process (a ``--shard`` or a ``torchrun`` rank) writes ``manifest.json`` from every image finished
    so far; under ``torchrun`` all ranks then wait for each other and rank 0 writes the final merged one.
    """
    ctx = ctx or Context()
    name_of_input, items = collect_images(target)
    refine = refine_config if run.refine_mask else None  # None: the selector's mask as it is
    settings = {
        "method": name,
        "size": run.size,
        "seed": run.seed,
        "config": config_module.to_dict(method.config),
        "refine_mask": config_module.to_dict(refine) if refine is not None else None,
        "combine": run.combine,
        "field_of_view": config_module.to_dict(FieldOfViewConfig()),
        "second_opinion": config_module.to_dict(SECOND_OPINION),
        **({"hair": run.hair} if run.hair != "keep" else {}),  # runs before the option resume as they were
        **({"encoder_candidates": False} if not run.encoder_candidates else {}),  # on since it was added
    }
    if run.encoder_candidates:
        extractor()  # a missing weights package is reported before anything is written
    if claim(out, settings, ("clusters", "masks", "overlays", "cases", "failed")):
        toml = config_module.to_toml(method.config)
        if refine is not None:  # loadable with --config: the clusterer's flat keys and the [refine] table
            toml += "\n[refine]\n" + config_module.to_toml(refine)
        write_text_atomic(out / "config.toml", toml)
    method.device = ctx.device
    folder = CaseFolder(out)
    with run_lock(out, shard.index, shard.count):
        folder.drop_stale_failures(case for case, _ in items)
        todo = folder.pending(shard.select(items))
        for group in _groups(progress(todo) if progress else todo, run.batch):
            _cluster_group(group, folder, method, run, refine, fail_fast)
        if ctx.distributed:
            barrier(ctx)
            if not ctx.is_main:
                return {}  # rank 0 writes and returns the merged manifest
        return write_manifest(out, name_of_input, target, settings, len(items), ctx.device)


def _cluster_group(
    group: list[tuple[str, Path]],
    folder: CaseFolder,
    method: Clusterer,
    run: ClusterRunConfig,
    refine: ColourRefineConfig | None,
    fail_fast: bool,
) -> None:
    """Read, cluster and write the images of ``group`` (in one step when several); an unreadable image is
    recorded as failed (``fail_fast``: raised)."""
    started = time.perf_counter()
    images = []
    for case_id, path in group:
        try:
            images.append((case_id, path, read_rgb(path)))
        except DataError as exc:
            if fail_fast:
                raise
            folder.fail(case_id, path, str(exc))
    if not images:
        return
    works = [resize_square(image, run.size) for _, _, image in images]
    if run.hair == "remove":
        works = [remove_hair(work) for work in works]
    seeds = [case_seed(run.seed, case_id) for case_id, _, _ in images]
    clustered = time.perf_counter()
    # one image: the clusterer's own segment(); several: segment_batch() shares the work between them
    results = method.segment_batch(works, seeds) if len(images) > 1 else [method.segment(works[0], seeds[0])]
    share = (time.perf_counter() - clustered) / len(images)
    records = [
        _cluster_one(image, work, case_id, path, seed, result, share, folder.root, run, refine)
        for (case_id, path, image), work, seed, result in zip(images, works, seeds, results, strict=True)
    ]
    wall = (time.perf_counter() - started) / len(images)  # reading and writing included, shared out
    for record in records:
        record["wall_seconds"] = round(wall, 4)
        if len(images) > 1:
            record["batch"] = len(images)
        folder.finish(record)  # last: marks the image done


def _groups(items: Iterable[tuple[str, Path]], size: int) -> Iterator[list[tuple[str, Path]]]:
    """``items`` in lists of ``size`` (the last one shorter)."""
    group: list[tuple[str, Path]] = []
    for item in items:
        group.append(item)
        if len(group) == size:
            yield group
            group = []
    if group:
        yield group


def _cluster_one(
    image: np.ndarray,
    work: np.ndarray,
    case_id: str,
    path: Path,
    seed: int,
    result: ClusterResult,
    cluster_seconds: float,
    out: Path,
    run: ClusterRunConfig,
    refine: ColourRefineConfig | None,
) -> dict[str, Any]:
    """The blind mask of one image from its clusters (:func:`blind_mask`); writes its maps and overlay,
    returns its case record. ``cluster_seconds``: this image's share of the clustering time."""
    h, w = image.shape[:2]
    start = time.perf_counter()
    features = feature_clusters(work, seed) if run.encoder_candidates else None
    found = blind_mask(work, result, seed, refine, run.combine, features)
    # clustering, selection, refinement, second opinion; no reading or writing
    seconds = cluster_seconds + time.perf_counter() - start
    clusters = found.clusters.clusters
    write_bytes_atomic(out / "clusters" / f"{case_id}.png", _label_png(resize_nearest(clusters, (h, w))))
    CaseFolder(out).write_mask(case_id, resize_nearest(found.mask.astype(np.uint8), (h, w)))
    write_overlay(out, case_id, image, [(found.mask, GREEN)])
    write_candidates(out, case_id, [c.mask for c in found.candidates])
    return {
        "case": case_id,
        "image": str(path),
        "seed": seed,
        "iterations": found.clusters.iterations,
        "seconds": round(seconds, 4),
        "clusters": int(np.unique(clusters).size),
        "label_history": found.clusters.label_history,
        "fov_fraction": round(float(found.fov.mean()), 6),
        "mask_source": found.source,
        "paler": found.paler,
        "selected_fraction": round(float(found.selected.mean()), 6),
        "mask_fraction": round(float(found.mask.mean()), 6),
        **{k: round(v, 6) if np.isfinite(v) else None for k, v in found.scores.items()},  # JSON has no inf
        "candidates": [
            {"score": round(c.score, 6) if np.isfinite(c.score) else None, "source": c.source, "paler": c.paler}
            for c in found.candidates
        ],
    }


REVIEW_FIELDS = ("case", "confidence", "agreement", "stability", "contrast", "mask_source", "mask_fraction")


def write_manifest(
    out: Path, name: str, target: Path, settings: dict[str, Any], total: int, device: str = "cpu"
) -> dict[str, Any]:
    """Rebuild ``manifest.json``, ``review.csv`` and ``failed.csv`` from every ``cases/*.json`` and
    ``failed/*.json`` (all shards)."""
    folder = CaseFolder(out)
    records, failed = folder.records(), folder.failures()
    seconds = [r["seconds"] for r in records]
    manifest = {
        **header(device, name, target, total),
        **settings,
        "finished": len(records),
        "median_seconds": float(np.median(seconds)) if seconds else None,
        "failed": failed,
        "cases": records,
    }
    folder.write_failed(failed)
    folder.write_review(records, REVIEW_FIELDS)
    folder.write_manifest(manifest)
    return manifest
