"""Data-parallel training and sharded clustering when started by ``torchrun``.

``torchrun --standalone --nproc_per_node=N -m medsegkit adapt ...`` sets ``RANK``, ``LOCAL_RANK`` and
``WORLD_SIZE``; :func:`init` then joins the process group (``nccl`` on CUDA, ``gloo`` on CPU) and every
process trains one DistributedDataParallel replica on its share of each epoch
(:func:`epoch_indices`, a ``DistributedSampler``). BatchNorm layers become synchronised: torch's
``SyncBatchNorm`` on CUDA and, because that one refuses CPU tensors, :class:`GlooSyncBatchNorm` on
CPU. Only rank 0 writes checkpoints, logs and predictions. Without ``torchrun`` every function here
is a no-op for a single process, so the same code path serves both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DistributedSampler

from medsegkit.errors import UsageError
from medsegkit.runtime.allocator import keep_freed_memory

TIMEOUT_ENV = "MEDSEGKIT_DIST_TIMEOUT_MIN"


@dataclass(frozen=True)
class Context:
    """Where this process stands: its rank among ``world_size`` processes and its torch device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(device: str) -> str:
    """``auto`` (CUDA when this machine has it, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; anything else,
    or CUDA on a machine without it, is a usage error.

    Example:
        >>> resolve_device("cpu")
        'cpu'
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit()):
        if not torch.cuda.is_available():
            raise UsageError(f"--device {device}: CUDA is not available on this machine")
        return device
    if device != "cpu":
        raise UsageError(f"--device must be auto, cpu, cuda or cuda:N, got {device!r}")
    return device


def cores_owned() -> int:
    """The CPU cores this process may run on (its affinity mask: taskset, cgroups, SLURM)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def set_threads(threads: int | None = None) -> int:
    """Give this process's torch intra-op pool the cores it owns, so that processes sharing a machine do
    not oversubscribe it (two 2-thread processes on 2 cores slow each other several-fold).

    ``threads`` (``--threads``), else ``$OMP_NUM_THREADS``, else the cores this process owns divided among
    the ``torchrun`` processes on this machine (``$LOCAL_WORLD_SIZE``). Returns the number used.
    """
    if threads is None:
        given = os.environ.get("OMP_NUM_THREADS", "").strip()
        if given.isdigit() and int(given) > 0:
            threads = int(given)
        else:
            local = os.environ.get("LOCAL_WORLD_SIZE", "1")
            return set_threads(max(1, cores_owned() // max(1, int(local) if local.isdigit() else 1)))
    if threads < 1:
        raise UsageError(f"--threads must be at least 1, got {threads}")
    torch.set_num_threads(max(1, threads))
    return max(1, threads)


def set_up_process(threads: int | None = None) -> int:
    """What every torch verb does first: its threads (:func:`set_threads`, returned) and its allocator
    (:func:`~medsegkit.runtime.allocator.keep_freed_memory`)."""
    used = set_threads(threads)
    keep_freed_memory()
    return used


def launched() -> bool:
    """True in a process started by ``torchrun`` with more than one process."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        raise UsageError(f"WORLD_SIZE must be a whole number, got {os.environ['WORLD_SIZE']!r}") from None


def init(device: str = "auto") -> Context:
    """Join the ``torchrun`` process group if there is one; returns this process's context.

    On CUDA each process takes ``cuda:LOCAL_RANK`` and ``nccl``; on CPU ``gloo``. Collective calls wait at
    most ``$MEDSEGKIT_DIST_TIMEOUT_MIN`` minutes (120) for the slowest rank.
    """
    device = resolve_device(device)
    if not launched():
        return Context(device=device)
    try:
        rank, world, local = (
            int(os.environ["RANK"]),
            int(os.environ["WORLD_SIZE"]),
            int(os.environ.get("LOCAL_RANK", "0")),
        )
        minutes = float(os.environ.get(TIMEOUT_ENV, "120"))
    except (KeyError, ValueError) as exc:
        raise UsageError(
            f"torchrun environment is incomplete or not numeric (RANK, WORLD_SIZE, LOCAL_RANK, {TIMEOUT_ENV}): {exc}"
        ) from None
    cuda = device.startswith("cuda")
    if cuda:
        device = f"cuda:{local}"
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        try:
            dist.init_process_group("nccl" if cuda else "gloo", timeout=timedelta(minutes=minutes))
        except (ValueError, RuntimeError) as exc:
            reason = str(exc).splitlines()[0][:200]
            raise UsageError(
                "cannot join the torchrun process group (start with `torchrun ... -m medsegkit`, or use "
                f"--shard): {reason}"
            ) from None
    return Context(rank=rank, world_size=world, local_rank=local, device=device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def session(device: str = "auto", threads: int | None = None) -> Iterator[Context]:
    """``with session(device) as ctx:``: set up this process (:func:`set_up_process`), join the ``torchrun``
    group if there is one, leave it afterwards."""
    set_up_process(threads)
    ctx = init(device)
    try:
        yield ctx
    finally:
        shutdown()


def summed(value: float, ctx: Context) -> float:
    """``value`` summed over every process (itself for one): CPU seconds of a whole torchrun job."""
    if not ctx.distributed:
        return value
    total = torch.tensor([value], dtype=torch.float64, device=ctx.device if ctx.device.startswith("cuda") else "cpu")
    dist.all_reduce(total)
    return float(total.item())


def barrier(ctx: Context) -> None:
    """Wait for every process (no-op for one)."""
    if ctx.distributed:
        dist.barrier()


def epoch_indices(n: int, ctx: Context, seed: int, epoch: int) -> list[int]:
    """This process's share of a shuffled epoch over ``n`` items.

    The permutation depends only on ``seed`` and ``epoch``; process r takes positions r, r + W, ...
    (padded so every process gets the same count). Step s of W processes with batch b therefore sees
    the same items as step s of one process with batch W·b.
    """
    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=seed)
    sampler.set_epoch(epoch)
    return list(sampler)


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics cover the whole batch across processes, on any device.

    Per-channel sums and counts, then centred squared sums, are all-reduced with the differentiable
    ``torch.distributed.nn.functional.all_reduce`` (so gradients flow through the global mean and
    variance, as in one process holding the whole batch). In eval mode, or without a process group,
    it is plain BatchNorm2d.

    Shape: ``(B, C, H, W)`` -> same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_initialized() and dist.get_world_size() > 1):
            return super().forward(x)
        c = x.shape[1]
        # two passes (global mean, then centred squares) keep the variance exact in float32
        sums = dist_fn.all_reduce(torch.cat([x.sum((0, 2, 3)), x.new_full((1,), x.numel() // c)]))
        n = sums[-1]
        mean = sums[:c] / n
        centred = x - mean[None, :, None, None]
        var = dist_fn.all_reduce(centred.square().sum((0, 2, 3))) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.detach(), momentum)
                self.running_var.lerp_(var.detach() * n / (n - 1).clamp_min(1), momentum)
        y = centred * torch.rsqrt(var + self.eps)[None, :, None, None]
        return y * self.weight[None, :, None, None] + self.bias[None, :, None, None] if self.affine else y

    @classmethod
    def convert(cls, module: nn.Module) -> nn.Module:
        """``module`` with every ``BatchNorm2d`` replaced by this class, sharing its parameter and buffer
        objects (an optimiser built before the conversion still updates them)."""
        if isinstance(module, nn.BatchNorm2d) and not isinstance(module, cls):
            sync = cls(module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats)
            sync.weight, sync.bias = module.weight, module.bias
            sync.running_mean, sync.running_var, sync.num_batches_tracked = (
                module.running_mean,
                module.running_var,
                module.num_batches_tracked,
            )
            sync.train(module.training)
            return sync
        for name, child in module.named_children():
            module.add_module(name, cls.convert(child))
        return module


def wrap(model: nn.Module, ctx: Context) -> nn.Module:
    """``model`` with synchronised BatchNorm inside DistributedDataParallel (unchanged for one process)."""
    if not ctx.distributed:
        return model
    if ctx.device.startswith("cuda"):
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[ctx.local_rank])
    return DistributedDataParallel(GlooSyncBatchNorm.convert(model))


def global_share(value: torch.Tensor, ctx: Context) -> float:
    """``W · value / Σ_ranks value``: rescales a rank's loss normalised by a local count to the global count.

    DDP averages gradients over the W processes, so a per-rank loss ``S_r / n_r`` multiplied by this
    factor becomes ``W · S_r / Σ n`` and the averaged gradient is that of ``Σ S / Σ n``, the loss one
    process would compute on the whole batch. 1.0 for one process.
    """
    if not ctx.distributed:
        return 1.0
    local = float(value.detach().double().item())
    return ctx.world_size * local / max(summed(local, ctx), 1e-12)
