"""Datasets: raw-layout readers, the canonical on-disk layout, and image I/O with clear errors."""
