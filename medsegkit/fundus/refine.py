"""``medsegkit refine``: denoised pseudo-labels for an unlabelled target domain (CPR, or DPL without context).

Reads only the source checkpoint and the target's train images (never their masks, never source images):

1. MC-dropout pseudo-labels: mean probability over ``passes`` (threshold ``threshold``) and the
   standard deviation of the probabilities at temperature ``std_temperature`` (reliable where
   ``std < max_std``; DPL's reference code uses temperature 2);
2. foreground/background prototypes per structure from the decoder features of reliable pixels,
   over the whole target set, and each pixel's agreement with its class prototype;
3. CPR only: a context-similarity head per structure on the frozen ASPP features, trained with the
   class-balanced pair loss on reliable, agreeing pixels (each step one image's random window of at most
   ``head_window`` decoder positions a side: the whole map up to 256 px); probabilities are refined by
   ``S^β``-weighted propagation within radius ``r``, ``steps`` times, then calibrated (each map
   rescaled monotonically so that its cut at ``threshold`` keeps the unrefined pseudo-label's area:
   refinement moves boundaries, never the size, :func:`~medsegkit.fundus.cpr.calibrate`) and
   thresholded at ``threshold`` again;
   A ground-truth-free safeguard keeps the refinement of a structure in an image only when the refined
   labels agree with the nearer prototype on at least as many pixels as the unrefined ones
   (:func:`~medsegkit.fundus.cpr.prototype_consistency`); otherwise that map falls back to the
   unrefined pseudo-label, and ``manifest.json`` says so per case and in total;
4. denoising masks: CPR keeps pixels with refined probability ≥ γ_high or ≤ γ_low that agree with
   their prototype; DPL keeps reliable pixels that agree with their prototype.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from medsegkit import __version__, registry
from medsegkit import config as config_module
from medsegkit.data.dataset import Dataset, resolve_dataset
from medsegkit.data.imageio import png_bytes
from medsegkit.engine.overlays import layers_of, write_overlay
from medsegkit.errors import DataError, UsageError
from medsegkit.fundus.config import RefineConfig
from medsegkit.fundus.cpr import (
    SimilarityHead,
    calibrate,
    local_similarity,
    pixel_denoise,
    propagate,
    prototype_agreement,
    prototypes,
    refinement_safeguard,
    similarity_loss,
)
from medsegkit.fundus.source import load_source_model
from medsegkit.imaging import resize_nearest, resize_square, to_tensor
from medsegkit.models.uncertainty import mc_dropout
from medsegkit.runtime.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from medsegkit.runtime.distributed import resolve_device, set_up_process
from medsegkit.runtime.job import Job


class _Features:
    """Captures the decoder output ``(B, 256, H/4, W/4)`` and the ASPP output ``(B, 256, H/16, W/16)``."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.values: dict[str, torch.Tensor] = {}
        net = model.net
        net.decoder.register_forward_hook(lambda m, i, o: self.values.__setitem__("decoder", o.detach()))
        net.decoder.aspp.register_forward_hook(lambda m, i, o: self.values.__setitem__("aspp", o.detach()))


def _down(mask: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return F.interpolate(mask.float(), size=size, mode="nearest") > 0.5


def _window(maps: tuple[torch.Tensor, ...], side: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
    """One random ``side`` x ``side`` window, the same of every ``(B, C, H, W)`` map; the maps themselves when
    they are no larger. The heads are 1x1 convolutions and the pair loss is local, so a window teaches them as
    the whole map does, at a cost that does not grow with the working size."""
    h, w = maps[0].shape[-2:]
    if h <= side and w <= side:
        return maps
    y = int(torch.randint(max(h - side, 0) + 1, (1,), generator=generator))
    x = int(torch.randint(max(w - side, 0) + 1, (1,), generator=generator))
    return tuple(m[..., y : y + side, x : x + side] for m in maps)


def check_components(cfg: RefineConfig) -> None:
    """Resolve every registry component ``cfg`` names before any work (a missing plugin fails first)."""
    if cfg.method != "dpl" and cfg.similarity_attention:
        registry.load("attention", cfg.similarity_attention)


def refine_target(source: Path, target: str, cfg: RefineConfig, job: Job) -> tuple[Path, dict[str, Any]]:
    """``medsegkit refine``: pseudo-labels for the dataset ``target`` (path or name under ``job.data_root``).

    The folder defaults to ``runs/refine-<method>-<target>``; returns it and its manifest.
    """
    check_components(cfg)
    ds = Dataset.open(resolve_dataset(target, job.data_root))
    destination = job.destination(Path("runs") / f"refine-{cfg.method}-{ds.name}")
    set_up_process(job.threads)
    return destination, refine(source, ds, destination, cfg, resolve_device(job.device), job.progress)


def refine(
    source: Path, target: Dataset, out: Path, cfg: RefineConfig, device: str = "cpu", progress: Any = None
) -> dict[str, Any]:
    """Write refined pseudo-labels and denoising masks for every train image of ``target``."""
    check_components(cfg)
    if target.task.name != "fundus":
        raise UsageError(f"refine needs a fundus target dataset, {target.name!r} is a {target.task.name} dataset")
    split = target.split_or_all("train")
    ids = target.case_ids(split)
    if not ids:
        raise DataError(f"{target.root}: no images in split {split!r}; refine needs unlabelled target images")
    model, src_cfg = load_source_model(Path(source), device)
    hooks = _Features(model)
    size = src_cfg.size
    torch.manual_seed(cfg.seed)
    start = time.perf_counter()

    # 1-2: pseudo-labels, uncertainty and features for every image
    records = []
    for case_id in progress(ids, "pseudo-labels") if progress else ids:
        x = to_tensor(resize_square(target.image(case_id), size)).unsqueeze(0).to(device)
        mean, std = mc_dropout(model, x, cfg.passes, cfg.std_temperature)
        model.eval()
        with torch.no_grad():
            model(x)
        records.append(
            {"id": case_id, "mean": mean, "std": std, "decoder": hooks.values["decoder"], "aspp": hooks.values["aspp"]}
        )
    small = records[0]["decoder"].shape[-2:]
    for r in records:
        r["pseudo"] = r["mean"] > cfg.threshold
        r["reliable"] = r["std"] < cfg.max_std
    fg, bg, judged = prototypes((r["decoder"], _down(r["pseudo"], small), _down(r["reliable"], small)) for r in records)
    judged = judged.view(1, -1, 1, 1)
    for r in records:
        r["agree"] = prototype_agreement(r["decoder"], _down(r["pseudo"], small), fg, bg) | ~judged

    # 3: context-similarity heads (CPR)
    heads = None
    if cfg.method != "dpl":
        heads = [
            SimilarityHead(records[0]["aspp"].shape[1], cfg.head_dim, cfg.similarity_attention).to(device)
            for _ in range(2)
        ]
        optimiser = torch.optim.Adam([p for h in heads for p in h.parameters()], lr=cfg.head_lr)
        generator = torch.Generator().manual_seed(cfg.seed)
        for _ in range(cfg.head_iters):
            r = records[int(torch.randint(len(records), (1,), generator=generator))]
            aspp = F.interpolate(r["aspp"], size=small, mode="bilinear", align_corners=False)
            valid = _down(r["reliable"], small) & r["agree"]
            aspp, valid, pseudo = _window((aspp, valid, _down(r["pseudo"], small)), cfg.head_window, generator)
            loss = sum(
                similarity_loss(
                    local_similarity(heads[s](aspp), cfg.radius),
                    pseudo[:, s : s + 1],
                    valid[:, s : s + 1],
                    cfg.radius,
                )
                for s in range(2)
            )
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        for h in heads:
            h.eval()

    # 4: refinement, denoising, outputs
    for sub in ("pseudo", "weights", "overlays", "prob"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    summary = []
    for r in records:
        case: dict[str, Any] = {"case": r["id"]}
        if heads is not None:
            aspp = F.interpolate(r["aspp"], size=small, mode="bilinear", align_corners=False)
            prob_small = F.adaptive_avg_pool2d(r["mean"], small)
            with torch.no_grad():
                refined = torch.cat(
                    [
                        propagate(
                            prob_small[:, s : s + 1],
                            local_similarity(heads[s](aspp), cfg.radius),
                            cfg.radius,
                            cfg.beta,
                            cfg.steps,
                        )
                        for s in range(2)
                    ],
                    dim=1,
                )
            prob = calibrate(
                F.interpolate(refined, size=(size, size), mode="bilinear", align_corners=False),
                r["mean"],
                cfg.threshold,
            )
            use, before, after = refinement_safeguard(
                r["decoder"], _down(r["pseudo"], small), _down(prob > cfg.threshold, small), fg, bg, judged
            )
            prob = torch.where(use.view(1, -1, 1, 1), prob, r["mean"])
            keep = pixel_denoise(prob, cfg.gamma_low, cfg.gamma_high)
            label = prob > cfg.threshold
            case["refined"] = dict(zip(("cup", "disc"), use[0].tolist(), strict=True))
            case["consistency"] = {  # None: no reliable pixels of one class anywhere, nothing to judge by
                name: [round(float(before[0, s]), 4), round(float(after[0, s]), 4)] if judged.view(-1)[s] else None
                for s, name in enumerate(("cup", "disc"))
            }
        else:
            prob, keep, label = r["mean"], r["reliable"], r["pseudo"]
        keep = keep & (F.interpolate(r["agree"].float(), size=(size, size), mode="nearest") > 0.5)
        _write_case(out, target, r["id"], prob[0].cpu().numpy(), label[0].cpu().numpy(), keep[0].cpu().numpy())
        case["kept"] = round(float(keep.float().mean()), 4)
        case["pseudo_area"] = {
            name: round(float(label[0, s].float().mean()), 4) for s, name in enumerate(("cup", "disc"))
        }
        summary.append(case)
    manifest = {
        "medsegkit_version": __version__,
        "source_checkpoint": str(source),
        "device": device,
        "target": {"name": target.name, "path": str(target.root), "split": split},
        "config": config_module.to_dict(cfg),
        "seconds": round(time.perf_counter() - start, 2),
        "fell_back": {name: sum(not c["refined"][name] for c in summary if "refined" in c) for name in ("cup", "disc")},
        "cases": summary,
    }
    write_text_atomic(out / "config.toml", config_module.to_toml(cfg))
    write_json_atomic(out / "manifest.json", manifest)
    return manifest


def _write_case(out: Path, ds: Dataset, case_id: str, prob: np.ndarray, label: np.ndarray, keep: np.ndarray) -> None:
    """Pseudo-label (0/1/2), denoising mask (bit 0 cup kept, bit 1 disc kept), probabilities, overlay."""
    image = ds.image(case_id)
    h, w = image.shape[:2]
    labels = np.where(label[0], 2, np.where(label[1], 1, 0)).astype(np.uint8)
    weights = keep[0].astype(np.uint8) | (keep[1].astype(np.uint8) << 1)
    labels, weights = resize_nearest(labels, (h, w)), resize_nearest(weights, (h, w))
    write_bytes_atomic(out / "pseudo" / f"{case_id}.png", png_bytes(labels))
    write_bytes_atomic(out / "weights" / f"{case_id}.png", png_bytes(weights))
    write_overlay(out, case_id, image, layers_of(labels, "fundus"))
    buffer = io.BytesIO()
    np.savez_compressed(buffer, prob=prob.astype(np.float16))
    write_bytes_atomic(out / "prob" / f"{case_id}.npz", buffer.getvalue())
