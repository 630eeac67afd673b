"""``review``: a person mends the few wrong masks of a lesion run: the decisions and their log
(:mod:`~medsegkit.lesion.review.decisions`), the run they are applied to (:mod:`~medsegkit.lesion.review.run`),
click-to-segment (:mod:`~medsegkit.lesion.review.click`), and the page and its server
(:mod:`~medsegkit.lesion.review.view`, :mod:`~medsegkit.lesion.review.server`)."""
