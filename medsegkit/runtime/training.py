"""One training epoch shared by ``pretrain-source``, ``adapt`` and ``self-train``, in one process or under torchrun."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.distributed as dist

from medsegkit.runtime.distributed import Context, epoch_indices


def train_epoch(
    model: torch.nn.Module,
    optimiser: torch.optim.Optimizer,
    ids: list[str],
    batch_loss: Callable[[list[str], int], torch.Tensor],
    ctx: Context,
    seed: int,
    epoch: int,
    batch_size: int,
    after_step: Callable[[], None] | None = None,
) -> float:
    """Step through this process's share of a shuffled epoch; returns the mean loss over all processes.

    ``batch_loss(case_ids, epoch)`` returns the scalar loss of one batch. ``batch_size`` is per process (the global
    batch is ``world_size · batch_size``); a last batch of one image is skipped (BatchNorm needs two), on
    every process alike because each gets the same number of items. ``after_step`` runs after every optimiser
    step (e.g. a mean teacher's update).
    """
    model.train()
    mine = [ids[i] for i in epoch_indices(len(ids), ctx, seed, epoch)]
    total, steps = 0.0, 0
    for start in range(0, len(mine), batch_size):
        batch = mine[start : start + batch_size]
        if len(batch) < 2:
            continue
        loss = batch_loss(batch, epoch)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        if after_step is not None:
            after_step()
        total += float(loss.detach())
        steps += 1
    mean = torch.tensor([total, steps], dtype=torch.float64)
    if ctx.distributed:
        mean = mean.to(ctx.device)
        dist.all_reduce(mean)
        mean = mean.cpu()
    return float(mean[0] / mean[1]) if mean[1] else float("nan")
