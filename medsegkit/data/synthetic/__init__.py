"""Seeded procedural datasets with exact ground truth: the embedded default for demos and tests."""
