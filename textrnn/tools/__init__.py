"""The ``textrnn`` tools: export (ONNX, TorchScript), gate heatmaps, training plots, word-vector commands."""
