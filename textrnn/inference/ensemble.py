"""Several trained classifiers of one vocabulary, joined into one model (an ensemble)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from textrnn.errors import UserError
from textrnn.inference.loading import Weights, read_model
from textrnn.inference.record import ModelRecord

SHARED = "embedding.fixed"  # the rows of words added from the vectors source: the same in every member


def join_classifiers(paths: list[str | Path]) -> tuple[ModelRecord, Weights]:
    """The record and weights of the ensemble of the classifiers at ``paths`` (checkpoints or folders).

    Raises:
        UserError: fewer than two models, or models of other vocabularies, labels or tokenizers.
    """
    if len(paths) < 2:
        raise UserError("an ensemble joins two or more classifiers")
    models = [read_model(path, "classification") for path in paths]
    first = models[0][0]
    weights: Weights = {}
    for i, (path, (record, member)) in enumerate(zip(paths, models, strict=True)):
        _check_member(path, record, member, paths[0], *models[0])
        weights |= {f"members.{i}.{k}": models[0][1][k] if k == SHARED else v for k, v in member.items()}
    net_args = {"members": [record.net_args for record, _ in models]}  # an EnsembleConfig
    record = replace(
        first, architecture="TextClassifierEnsemble", net_args=net_args, calibration_temperature=1.0
    )
    return record, weights


def _check_member(
    path, record: ModelRecord, weights: Weights, first_path, first: ModelRecord, first_weights
) -> None:
    """A member reads text as the first one does, and its fixed rows are the first one's."""
    reads = (record.vocab, record.label_names, record.tokenizer)
    if record.architecture != "TextClassifierNet" or reads != (first.vocab, first.label_names, first.tokenizer):
        raise UserError(f"{path}: not a classifier of the vocabulary, labels and tokenizer of {first_path}")
    if SHARED in weights and not torch.equal(weights[SHARED], first_weights[SHARED]):
        raise UserError(f"{path}: its fixed word vectors differ from those of {first_path}")
