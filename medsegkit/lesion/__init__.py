"""The lesion pipeline, one folder per stage: ``clustering/`` (S3-Net, k-means, the clusterer contract),
``blind/`` (field of view, candidates and selection, colour refinement, confidence), ``cluster.py`` (the
``cluster`` verb over a folder) and ``selftrain/`` (one network for a folder, taught by its blind masks)."""
