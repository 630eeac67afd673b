"""The per-case run folder shared by both pipelines: which cases are pending, case records, the manifest,
``review.csv`` and ``failed.csv`` (:mod:`~medsegkit.engine.casefolder`), overlays
(:mod:`~medsegkit.engine.overlays`), and the task-agnostic prediction loop (:mod:`~medsegkit.engine.prediction`)."""
