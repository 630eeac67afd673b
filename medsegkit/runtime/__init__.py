"""Runtime plumbing shared by every verb: devices and torchrun sessions, threads and the allocator, numeric
precision, where a run reads and writes (:class:`~medsegkit.runtime.job.Job`), atomic files, checkpoints and
one training epoch."""
