"""Pretrained word vectors: file readers, named sources, and their alignment to a vocabulary."""
