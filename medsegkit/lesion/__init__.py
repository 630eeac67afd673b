"""The lesion pipeline: per-image clustering (S3-Net, k-means), blind lesion selection, colour
refinement, and the ``medsegkit cluster`` runner."""
