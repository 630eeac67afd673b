"""``self-train``: a cluster run as teacher (:mod:`~medsegkit.lesion.selftrain.teacher`), the student network and
its predictor (:mod:`~medsegkit.lesion.selftrain.network`), and the training and the folder's new masks
(:mod:`~medsegkit.lesion.selftrain.train`)."""
