"""The blind choice of the lesion, without ground truth, in the order it runs on one image: the field of view
(:mod:`~medsegkit.lesion.blind.fov`), candidate unions of clusters and their score
(:mod:`~medsegkit.lesion.blind.selection`), colour refinement (:mod:`~medsegkit.lesion.blind.colour_refine`),
the confidence (:mod:`~medsegkit.lesion.blind.confidence`), and the function that runs them all for one image
(:func:`medsegkit.lesion.blind.per_image.blind_mask`)."""
