"""The plain PyTorch models: cells from their equations, the recurrent stack and encoder, the nets."""
