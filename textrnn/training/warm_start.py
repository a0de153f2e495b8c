"""Start a classifier from another one: its encoder, pooling and the word vectors of the words both know.

A sentence-level task with little data (SST-5: 8,544 sentences) learns from a model trained on a related,
larger one (SST-2: 67,349 phrases): same architecture, another vocabulary and another set of classes. Only
the head starts afresh.
"""

from __future__ import annotations

from operator import attrgetter

import torch

from textrnn.errors import UserError
from textrnn.inference.loading import build_net, read_model
from textrnn.nn.classifier import TextClassifierNet
from textrnn.text.vocab import Vocab


@torch.no_grad()
def warm_start(net: TextClassifierNet, vocab: list[str], source: str) -> int:
    """Copy into ``net`` the encoder and pooling of the classifier ``source`` (a checkpoint, a model folder or a
    shipped model's name), its character CNN if both have ``char_features``, and the embedding row of every
    word of ``vocab`` that ``source`` knows.

    Returns:
        How many embedding rows were copied.

    Raises:
        UserError: ``source`` is not a classifier, or its encoder or pooling has another shape.
    """
    record, weights = read_model(source, "classification")
    if record.architecture != "TextClassifierNet":
        raise UserError(f"init_from {source}: a {record.architecture}, not a TextClassifierNet")
    donor = build_net(record, weights)
    both_spell = donor.spelling is not None and net.spelling is not None  # the spellings are each vocabulary's
    for part in ("encoder", "pooling", *(("spelling.chars", "spelling.conv") if both_spell else ())):
        mine, theirs = attrgetter(part)(net), attrgetter(part)(donor).state_dict()
        shapes = {k: tuple(v.shape) for k, v in theirs.items()}
        if shapes != {k: tuple(v.shape) for k, v in mine.state_dict().items()}:
            raise UserError(f"init_from {source}: its {part} is not shaped like this model's {part}")
        mine.load_state_dict(theirs)
    rows, known = donor.embedding.weight, Vocab(record.vocab).stoi
    pairs = [(i, known[token]) for i, token in enumerate(vocab) if token in known and i > 0]
    ours_ids, theirs_ids = (torch.tensor(ids) for ids in zip(*pairs))
    _set_rows(net, ours_ids, rows[theirs_ids])
    return len(pairs)


def _set_rows(net: TextClassifierNet, ids: torch.Tensor, rows: torch.Tensor) -> None:
    """Write ``rows`` at embedding ``ids``, in the fine-tuned table or among the fixed rows after it."""
    embedding = net.embedding
    k = embedding.trained.num_embeddings
    trained = ids < k
    embedding.trained.weight[ids[trained]] = rows[trained]
    embedding.fixed[ids[~trained] - k] = rows[~trained]
