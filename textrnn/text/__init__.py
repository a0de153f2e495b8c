"""Text to token ids: file and hub sources, tokenizers, the vocabulary, padded batches, character streams."""
