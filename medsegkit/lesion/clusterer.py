"""The plugin-facing path of the clusterer contract, kept for plugins written against earlier releases.

New code imports :mod:`medsegkit.lesion.clustering.base`; this module only re-exports it.
"""

from medsegkit.lesion.clustering.base import Clusterer, ClusterResult

__all__ = ["ClusterResult", "Clusterer"]
