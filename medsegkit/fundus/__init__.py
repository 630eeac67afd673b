"""The fundus pipeline: source training, MC-dropout pseudo-labels with CPR/DPL refinement, source-free adaptation."""
