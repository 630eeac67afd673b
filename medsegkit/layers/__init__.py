"""Building blocks: I-LKA attention, deformable convolution, spatial transformer."""

from medsegkit.layers.deform import DeformConv2d, deform_conv2d_sampled
from medsegkit.layers.ilka import InceptionLKA
from medsegkit.layers.stn import SpatialTransformer

__all__ = ["DeformConv2d", "InceptionLKA", "SpatialTransformer", "deform_conv2d_sampled"]
