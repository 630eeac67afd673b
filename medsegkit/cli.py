"""The ``medsegkit`` command line. It only parses arguments, calls the library and prints."""

from __future__ import annotations

import functools
import json
import os
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import numpy as np
import typer
from rich.progress import track

from medsegkit import __version__, registry, report
from medsegkit.errors import MedsegkitError

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="medsegkit",
    help="Label-efficient medical image segmentation: prepare datasets, cluster lesions, adapt fundus models.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    add_completion=False,
)
plugins_app = typer.Typer(help="List and check registered components (built-in and third-party).", no_args_is_help=True)
app.add_typer(plugins_app, name="plugins")

DataRoot = Annotated[
    Path | None,
    typer.Option("--data-root", help="Folder holding prepared datasets by name. Default: $MEDSEGKIT_DATA, else ./data.", show_default=False),
]


def bar(description: str, transient: bool = False) -> Callable[[Any], Any]:
    """A rich progress bar with ETA on stderr (silent when stderr is not a terminal)."""
    return lambda items: track(items, description=description, console=report.err, transient=transient, disable=not report.err.is_terminal)


def staged_bar(items: Any, description: str) -> Any:
    """Progress for library functions that name each of their stages."""
    return bar(description)(items)


def handle_errors(fn: F) -> F:
    """Turn expected failures into one line on stderr and exit code 1 (runtime) or 2 (usage)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except MedsegkitError as exc:
            if os.environ.get("MEDSEGKIT_DEBUG") == "1":
                raise
            report.err.print(f"[bold red]error:[/] {exc}", markup=True, soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        report.out.print(f"medsegkit {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
) -> None:
    """medsegkit: good masks, honest numbers and pictures from few or no labels."""


@app.command()
@handle_errors
def prepare(
    kind: Annotated[str, typer.Argument(help="Reader for the raw layout: ph2, dofe-fundus, drishti-gs, refuge, origa, folder, synthetic-dermoscopy, synthetic-fundus, or a plugin's (see `medsegkit plugins list --kind datasets`).")],
    src: Annotated[Path | None, typer.Argument(help="Folder in the reader's raw layout (not used by the synthetic generators).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Dataset folder to write. Default: <data root>/<dataset name>.", show_default=False)] = None,
    data_root: DataRoot = None,
    name: Annotated[str | None, typer.Option(help="Dataset name stored in dataset.json and used for the default --out.", show_default=False)] = None,
    domain: Annotated[int | None, typer.Option(help="dofe-fundus: which DomainN of the release (1 Drishti-GS, 2 RIM-ONE-r3, 3 REFUGE train, 4 REFUGE val).", show_default=False)] = None,
    crop_size: Annotated[int | None, typer.Option(help="drishti-gs, refuge: side of the disc-centred ROI crop in source pixels (drishti-gs default 800; refuge default: no crop).", show_default=False)] = None,
    resize: Annotated[int | None, typer.Option(help="drishti-gs, refuge: resize the (cropped) image to N x N after cropping.", show_default=False)] = None,
    min_experts: Annotated[int | None, typer.Option(help="drishti-gs: a pixel is labelled when at least this many of the 4 experts marked it (default 2).", show_default=False)] = None,
    task: Annotated[str | None, typer.Option(help="folder: label set, 'lesion' (0/1) or 'fundus' (0 background, 1 rim, 2 cup).", show_default=False)] = None,
    mask_map: Annotated[str | None, typer.Option(help="folder: raw mask value to label, e.g. '0:0,255:1' (the default).", show_default=False)] = None,
    count: Annotated[int | None, typer.Option(help="synthetic-*: number of cases (default 20).", show_default=False)] = None,
    size: Annotated[int | None, typer.Option(help="synthetic-*: image side in pixels (default 256).", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="synthetic-*: random seed; case i depends only on (seed, i, style) (default 0).", show_default=False)] = None,
    style: Annotated[str | None, typer.Option(help="synthetic-fundus: acquisition style 'a' or 'b' (a domain shift between them).", show_default=False)] = None,
    test_fraction: Annotated[float | None, typer.Option(help="synthetic-*: share of cases in the test split (default 0.25); layouts without splits (origa, ph2, folder): hold out this share as a test split, chosen by case id.", show_default=False)] = None,
    opt: Annotated[list[str] | None, typer.Option("--opt", help="Option for a plugin reader, as key=value; repeatable.", show_default=False)] = None,
) -> None:
    """Turn a public dataset's raw layout into the canonical layout (images/, masks/, dataset.json).

    The dataset is written to a temporary folder and moved into place at the end, so an
    interrupted run leaves no half dataset, and a rerun gives the same files.
    """
    from medsegkit.data.dataset import data_root as resolve_root
    from medsegkit.data.prepare import parse_extra_options, prepare as run_prepare

    given = {
        "domain": domain, "crop_size": crop_size, "resize": resize, "min_experts": min_experts,
        "task": task, "mask_map": mask_map, "count": count, "size": size, "seed": seed,
        "style": style, "test_fraction": test_fraction,
    }
    options = {k: v for k, v in given.items() if v is not None} | parse_extra_options(opt or [])

    progress = bar(f"prepare {kind}", transient=True)

    command = shlex.join(["medsegkit", *sys.argv[1:]]) if sys.argv and "medsegkit" in sys.argv[0] else None
    target, manifest = run_prepare(kind, src, out, resolve_root(data_root), options, name=name, progress=progress, command=command)
    report.out.print(report.dataset_table(manifest, str(target)))


@app.command()
@handle_errors
def cluster(
    dataset: Annotated[str, typer.Argument(help="Images to segment: a prepared dataset (path or name under the data root) or a plain folder of images.")],
    method: Annotated[str, typer.Option("--method", "-m", help="Clustering method: s3 (S3-Net), s3-stn (with a spatial transformer and boundary loss), kmeans (colour baseline), or a plugin's.")] = "s3",
    size: Annotated[int, typer.Option(help="Working resolution: images are resized to N x N for clustering; outputs are resized back to each image's size.")] = 256,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder. Default: runs/cluster-<method>-<dataset>.", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with method options (flat keys, e.g. lr = 0.2); flags override it.", show_default=False)] = None,
    seed: Annotated[int, typer.Option(help="Random seed; each image's seed derives from it and the case id, so shards agree with a single run.")] = 0,
    device: Annotated[str, typer.Option(help="Torch device for the network: cpu, cuda or cuda:N.")] = "cpu",
    shard: Annotated[str | None, typer.Option(help="Process shard i of N (0-based 'i/N'); default: RANK/WORLD_SIZE under torchrun, else all images.", show_default=False)] = None,
    max_iter: Annotated[int | None, typer.Option(help="s3, s3-stn: maximum iterations per image (12; the paper: 50).", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="s3, s3-stn: SGD learning rate (0.2).", show_default=False)] = None,
    attention: Annotated[str | None, typer.Option(help="s3, s3-stn: attention module of the blocks, a medsegkit.attention name (ilka).", show_default=False)] = None,
    num_clusters: Annotated[int | None, typer.Option(help="kmeans: clusters (2); s3: initial clusters K (default C).", show_default=False)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Any method option as key=value (see the method's config in docs/cluster.md); repeatable.", show_default=False)] = None,
    refine_mask: Annotated[bool, typer.Option("--refine-mask/--no-refine-mask", help="Refine the chosen lesion mask with a lesion and a skin colour model (docs/cluster.md); the cluster maps are never changed.")] = True,
    data_root: DataRoot = None,
) -> None:
    """Segment every image without labels; writes cluster maps, blind lesion masks, overlays and a manifest.

    A rerun skips finished images, so an interrupted run loses at most the image in progress.
    """
    from medsegkit import distributed
    from medsegkit.clustering import Shard, make_method, run_cluster
    from medsegkit.methods.mask_refine import MaskRefineConfig
    from medsegkit.data.dataset import data_root as resolve_root, resolve_dataset
    from medsegkit.data.prepare import parse_extra_options

    overrides = {"max_iter": max_iter, "lr": lr, "attention": attention, "num_clusters": num_clusters}
    overrides = {k: v for k, v in overrides.items() if v is not None} | parse_extra_options(set_ or [], flag="--set")
    distributed.check_device(device)
    target = Path(dataset)
    if not target.is_dir():
        target = resolve_dataset(dataset, resolve_root(data_root))
    runner = make_method(method, config, overrides)
    destination = out if out is not None else Path("runs") / f"cluster-{method.replace(':', '-')}-{target.name}"

    ctx = distributed.init(device)
    progress = bar(f"cluster {method}") if ctx.is_main else None
    refine = MaskRefineConfig() if refine_mask else None  # None: the selector's mask as it is
    manifest = run_cluster(target, destination, method, runner, size, seed, Shard.parse(shard), ctx.device, progress, ctx, refine)
    distributed.shutdown()
    if not ctx.is_main:
        return
    seconds = manifest["median_seconds"]
    report.out.print(
        f"{manifest['finished']}/{manifest['input']['images']} images done in {destination}"
        + (f"; median {seconds:.2f} s per image" if seconds is not None else "")
    )


@app.command("pretrain-source")
@handle_errors
def pretrain_source(
    domain: Annotated[str, typer.Option(help="Labelled source fundus dataset: a prepared dataset folder or a name under the data root (drishti-gs, refuge, ...).")],
    epochs: Annotated[int | None, typer.Option(help="Training epochs (50).", show_default=False)] = None,
    size: Annotated[int | None, typer.Option(help="Training and validation resolution, a multiple of 16 (512).", show_default=False)] = None,
    encoder: Annotated[str | None, typer.Option(help="segmentation-models-pytorch encoder of the DeepLabv3+ (mobilenet_v2).", show_default=False)] = None,
    encoder_weights: Annotated[str | None, typer.Option(help="none (default), imagenet (only from the local cache; nothing is downloaded) or a state-dict file.", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step, at least 2 (8).", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (1e-3).", show_default=False)] = None,
    aspp_dropout: Annotated[float | None, typer.Option(help="Dropout inside the ASPP (0.5); also the MC-dropout of refine.", show_default=False)] = None,
    head_dropout: Annotated[float | None, typer.Option(help="Dropout before the 1x1 head (0.1); also used by MC dropout.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (0).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML file with these options; flags override it.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder. Default: runs/source-<dataset>.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last epoch (only --epochs may change).")] = False,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda or cuda:N.")] = "cpu",
    data_root: DataRoot = None,
) -> None:
    """Train the source-domain DeepLabv3+ (cup and disc) with augmentation; saves best.pt and last.pt with their config."""
    from medsegkit import config as config_module, distributed
    from medsegkit.data.dataset import Dataset, data_root as resolve_root, resolve_dataset
    from medsegkit.methods.source import SourceConfig, train_source

    distributed.check_device(device)
    overrides = {
        "epochs": epochs, "size": size, "encoder": encoder, "encoder_weights": encoder_weights, "batch_size": batch_size, "lr": lr, "seed": seed,
        "aspp_dropout": aspp_dropout, "head_dropout": head_dropout,
    }  # fmt: skip
    cfg = config_module.load(SourceConfig, config, overrides, "pretrain-source")
    ds = Dataset.open(resolve_dataset(domain, resolve_root(data_root)))
    destination = out if out is not None else Path("runs") / f"source-{ds.name}"

    ctx = distributed.init(device)
    result = train_source(ds, destination, cfg, ctx.device, resume, staged_bar, ctx)
    distributed.shutdown()
    if not ctx.is_main:
        return
    for record in result["history"][-3:]:
        report.out.print(
            f"epoch {record['epoch']}: loss {record['loss']:.4f}, validation Dice disc {record['val_dice_disc']:.4f} cup {record['val_dice_cup']:.4f} ({record['seconds']:.1f} s)"
        )
    report.out.print(f"checkpoints in {destination} (best.pt, last.pt, config.toml, history.json)")


@app.command()
@handle_errors
def refine(
    source: Annotated[Path, typer.Option("--source", help="Source checkpoint from pretrain-source (best.pt or last.pt); the source images are never read.")],
    target: Annotated[str, typer.Option("--target", help="Unlabelled target fundus dataset (path or name under the data root); its train images are used, never its masks.")],
    method: Annotated[str, typer.Option(help="cpr (context-aware refinement), cpr-cbam (CBAM in the similarity head) or dpl (denoising without context).")] = "cpr",
    passes: Annotated[int | None, typer.Option(help="MC-dropout passes (10; the paper uses 100).", show_default=False)] = None,
    config: Annotated[Path | None, typer.Option("--config", help="TOML with refine options (see docs/adaptation.md); flags override it.", show_default=False)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Any refine option as key=value; repeatable.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder. Default: runs/refine-<method>-<target>.", show_default=False)] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (0).", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda or cuda:N.")] = "cpu",
    data_root: DataRoot = None,
) -> None:
    """Make denoised pseudo-labels for the target's train images: pseudo/, weights/, prob/, overlays/ and a manifest."""
    from medsegkit import config as config_module, distributed
    from medsegkit.data.dataset import Dataset, data_root as resolve_root, resolve_dataset
    from medsegkit.data.prepare import parse_extra_options
    from medsegkit.methods.refine import RefineConfig, refine as run_refine

    distributed.check_device(device)
    overrides = {"method": method, "passes": passes, "seed": seed} | parse_extra_options(set_ or [], flag="--set")
    cfg = config_module.load(RefineConfig, config, overrides, "refine")
    ds = Dataset.open(resolve_dataset(target, resolve_root(data_root)))
    destination = out if out is not None else Path("runs") / f"refine-{cfg.method}-{ds.name}"

    progress = staged_bar

    manifest = run_refine(source, ds, destination, cfg, device, progress)
    kept = np.mean([c["kept"] for c in manifest["cases"]]) if manifest["cases"] else 0.0
    report.out.print(f"{len(manifest['cases'])} pseudo-labels in {destination} ({100 * kept:.1f}% of pixels kept by denoising; {manifest['seconds']:.1f} s)")


@app.command()
@handle_errors
def adapt(
    source_domain: Annotated[str, typer.Option("--from", help="Source domain name or dataset (used to find or make the source checkpoint).")],
    target: Annotated[str, typer.Option("--to", help="Target fundus dataset (path or name under the data root): train images adapt, test split scores.")],
    source: Annotated[Path | None, typer.Option("--source", help="Source checkpoint. Default: runs/source-<from>/best.pt, trained first if missing.", show_default=False)] = None,
    method: Annotated[str, typer.Option(help="cpr, cpr-cbam or dpl (denoised pseudo-labels without context refinement).")] = "cpr",
    loss: Annotated[str | None, typer.Option(help="Training loss from the medsegkit.losses registry, called as loss(logits, target, weight): focal-bce (default for cpr, cpr-cbam), masked-bce (default for dpl), or a plugin's.", show_default=False)] = None,
    epochs: Annotated[int | None, typer.Option(help="Adaptation epochs (10).", show_default=False)] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step, at least 2 (8).", show_default=False)] = None,
    lr: Annotated[float | None, typer.Option(help="Adam learning rate (3e-4).", show_default=False)] = None,
    threshold: Annotated[float | None, typer.Option(help="Probability threshold of the test-split predictions, source-only and adapted alike (0.75, as DPL's and CPR's evaluation).", show_default=False)] = None,
    passes: Annotated[int | None, typer.Option(help="MC-dropout passes for refine (10).", show_default=False)] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="A refine option as key=value (see docs/adaptation.md); repeatable.", show_default=False)] = None,
    size: Annotated[int | None, typer.Option(help="Working size when a source checkpoint has to be trained first (512).", show_default=False)] = None,
    source_epochs: Annotated[int | None, typer.Option(help="Epochs when a source checkpoint has to be trained first (50).", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Run folder. Default: runs/adapt-<method>-<from>-to-<to>.", show_default=False)] = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its last epoch.")] = False,
    seed: Annotated[int | None, typer.Option(help="Random seed (0).", show_default=False)] = None,
    device: Annotated[str, typer.Option(help="Torch device: cpu, cuda or cuda:N.")] = "cpu",
    data_root: DataRoot = None,
) -> None:
    """Adapt a source model to an unlabelled target without the source data, then score source-only against adapted."""
    from medsegkit import config as config_module, distributed, evaluation as ev
    from medsegkit.data.dataset import Dataset, data_root as resolve_root, resolve_dataset
    from medsegkit.data.prepare import parse_extra_options
    from medsegkit.methods.adapt import AdaptConfig, adapt as run_adapt
    from medsegkit.methods.refine import RefineConfig
    from medsegkit.methods.source import SourceConfig, train_source

    distributed.check_device(device)
    root = resolve_root(data_root)
    ds = Dataset.open(resolve_dataset(target, root))
    if loss is not None:
        registry.resolve("losses", loss)
    cfg = config_module.load(AdaptConfig, None, {"method": method, "loss": loss, "epochs": epochs, "batch_size": batch_size, "lr": lr, "threshold": threshold, "seed": seed}, "adapt")
    refine_cfg = config_module.load(RefineConfig, None, {"method": method, "passes": passes, "seed": seed} | parse_extra_options(set_ or [], flag="--set"), "refine")

    ctx = distributed.init(device)
    progress = staged_bar
    source_name = Path(source_domain).name
    if source is None:
        source = Path("runs") / f"source-{source_name}" / "best.pt"
        if not source.is_file():
            if ctx.is_main:
                report.err.print(f"no source checkpoint at {source}: training one on {source_domain} first")
            src_ds = Dataset.open(resolve_dataset(source_domain, root))
            src_cfg = config_module.load(SourceConfig, None, {"size": size, "epochs": source_epochs, "seed": seed}, "pretrain-source")
            train_source(src_ds, source.parent, src_cfg, ctx.device, resume=True, progress=progress, ctx=ctx)
    destination = out if out is not None else Path("runs") / f"adapt-{cfg.method}-{source_name}-to-{ds.name}"
    result = run_adapt(source, ds, destination, cfg, refine_cfg, ctx.device, resume, progress, ctx)
    distributed.shutdown()
    if not ctx.is_main:
        return
    settings = ev.EvalSettings(split="test" if "test" in ds.splits else "all")
    results = [ev.evaluate_run(Path(run), ds, settings, label=Path(run).name) for run in result["runs"]]
    frame = ev.per_case_frame(results, settings)
    summary = ev.summarise(frame)
    report.write_evaluation(destination / "evaluation", frame, ev.summary_document(results, summary, ds, settings))
    report.out.print(report.evaluation_table(summary, f"{source_name} -> {ds.name} ({cfg.method}), split {settings.split}"))


@app.command()
@handle_errors
def info(
    dataset: Annotated[str, typer.Argument(help="Prepared dataset: a folder with dataset.json, or a name under the data root (ph2, drishti-gs, domain1, ...).")],
    data_root: DataRoot = None,
) -> None:
    """Show the summary of a prepared dataset."""
    from medsegkit.data.dataset import Dataset, data_root as resolve_root, resolve_dataset

    path = resolve_dataset(dataset, resolve_root(data_root))
    report.out.print(report.dataset_table(Dataset.open(path).manifest, str(path)))


@app.command()
@handle_errors
def evaluate(
    predictions: Annotated[list[Path], typer.Argument(help="One or more prediction folders (masks/<case>.png, clusters/<case>.png, or flat <case>.png); several give one comparison table.")],
    gt: Annotated[str, typer.Option("--gt", help="Ground truth: a prepared dataset folder or a name under the data root.")],
    data_root: DataRoot = None,
    split: Annotated[str | None, typer.Option(help="Split of the dataset to score. Default: 'test' if the dataset has one, else 'all'.", show_default=False)] = None,
    select: Annotated[str, typer.Option(help="'blind': the mask the method chose without ground truth (masks/); 'best-overlap': from a cluster map, the cluster with most pixels inside the ground truth.")] = "blind",
    protocol: Annotated[str, typer.Option(help="'standard', or 'ssct' to reproduce the official S3-Net evaluation, which multiplies predictions by the dilated ground truth (a ground-truth leak, flagged in every output).")] = "standard",
    at_size: Annotated[int | None, typer.Option(help="Score at N x N (both resized, nearest) instead of at the ground truth's resolution, as some papers do.", show_default=False)] = None,
    spacing: Annotated[str | None, typer.Option(help="Pixel size of the ground truth, 'S' or 'ROW,COL' (e.g. mm): distances in that unit instead of pixels.", show_default=False)] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for per_case.csv and summary.json. Default: <prediction>/evaluation for one run, ./evaluation for several.", show_default=False)] = None,
    allow_missing: Annotated[bool, typer.Option("--allow-missing", help="Exit 0 even when some cases have no prediction (they are still listed).")] = False,
) -> None:
    """Score predictions against a prepared dataset: Dice, HM, XOR, HD, HD95, ASD/ASSD (and vCDR for fundus)."""
    from medsegkit import evaluation as ev
    from medsegkit.data.dataset import Dataset, data_root as resolve_root, resolve_dataset

    ds = Dataset.open(resolve_dataset(gt, resolve_root(data_root)))
    settings = ev.EvalSettings(split=split, select=select, protocol=protocol, at_size=at_size, spacing=ev.parse_spacing(spacing))  # type: ignore[arg-type]

    progress = bar("evaluate", transient=True)

    results = [ev.evaluate_run(p, ds, settings, progress) for p in predictions]
    frame = ev.per_case_frame(results, settings)
    summary = ev.summarise(frame)
    document = ev.summary_document(results, summary, ds, settings)
    target = out if out is not None else (predictions[0] / "evaluation" if len(predictions) == 1 else Path("evaluation"))
    report.write_evaluation(target, frame, document)
    split_name = document["ground_truth"]["split"]
    title = f"{ds.name} split {split_name}, select {settings.effective_select}, at {document['resolution']} resolution, distances in {document['distance_unit']}"
    if settings.leaks_ground_truth:
        title = f"PROTOCOL SSCT: GROUND TRUTH LEAKS INTO PREDICTIONS (reproduction only). {title}"
        report.err.print(f"[bold yellow]warning:[/] {ev.SSCT_WARNING}")
    report.out.print(report.evaluation_table(summary, title))
    report.err.print(f"wrote {target / 'per_case.csv'} and {target / 'summary.json'}")
    issues = ev.problems(results)
    for line in issues:
        report.err.print(f"[yellow]note:[/] {line}", soft_wrap=True)
    if any(r.missing for r in results) and not allow_missing:
        raise MedsegkitError("some cases have no prediction (listed above); pass --allow-missing to accept that")


@plugins_app.command("list")
@handle_errors
def plugins_list(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help=f"Only this kind: {', '.join(registry.KINDS)}.", show_default=False)] = None,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f", help="Output as a rich table or JSON records.")] = "table",
) -> None:
    """List every registered component with its distribution and whether it imports."""
    statuses = [registry.check(c) for c in registry.components(kind)]
    if fmt == "json":
        typer.echo(json.dumps(report.status_records(statuses), indent=2))
    else:
        report.out.print(report.plugins_table(statuses))


@plugins_app.command("check")
@handle_errors
def plugins_check(
    kind: Annotated[str | None, typer.Option("--kind", "-k", help="Only this kind.", show_default=False)] = None,
) -> None:
    """Import every registered component; exit 1 if any is broken."""
    statuses = [registry.check(c) for c in registry.components(kind)]
    report.out.print(report.plugins_table(statuses))
    broken = [s for s in statuses if not s.ok]
    if broken:
        names = ", ".join(f"{s.component.kind}/{s.component.qualified_name}" for s in broken)
        raise MedsegkitError(f"{len(broken)} broken component(s): {names}")


def main() -> None:
    app()
