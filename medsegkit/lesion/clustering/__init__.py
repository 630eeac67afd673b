"""Per-image clustering without labels: the clusterer contract (:mod:`~medsegkit.lesion.clustering.base`),
S3-Net one image at a time or several in one step (:mod:`~medsegkit.lesion.clustering.s3`) and k-means
(:mod:`~medsegkit.lesion.clustering.kmeans`)."""
