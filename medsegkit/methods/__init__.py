"""Segmentation methods, created by name through the ``medsegkit.methods`` registry."""
