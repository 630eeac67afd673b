"""medsegkit: label-efficient medical image segmentation from the command line."""

__version__ = "0.1.0"
