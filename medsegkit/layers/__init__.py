"""Building blocks: I-LKA attention, deformable and fast depthwise convolution, spatial transformer."""

from medsegkit.layers.deform import DeformConv2d, deform_conv2d_sampled
from medsegkit.layers.depthwise import DepthwiseConv2d, depthwise_conv2d
from medsegkit.layers.ilka import InceptionLKA
from medsegkit.layers.stn import SpatialTransformer

__all__ = [
    "DeformConv2d",
    "DepthwiseConv2d",
    "InceptionLKA",
    "SpatialTransformer",
    "deform_conv2d_sampled",
    "depthwise_conv2d",
]
