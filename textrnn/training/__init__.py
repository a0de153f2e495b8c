"""Training with Lightning: data modules, LightningModules, clipping, callbacks, checkpoints, the CLI."""
