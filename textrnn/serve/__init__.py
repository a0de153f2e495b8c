"""``textrnn serve``: one model behind HTTP, with micro-batched classification, streamed generation and a page.

The path of a request: ``guard`` (body size, API key, JSON errors) → ``schemas`` (fields and limits) →
``batcher`` (classification, many requests per forward pass) or ``streams`` (generation, one step per
character) → the model's single worker thread.
"""
