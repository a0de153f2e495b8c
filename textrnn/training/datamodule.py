"""VocabDataModule: what the data modules share: a vocabulary built on first use, and what the model
learns of it through the CLI's ``link_arguments``."""

from __future__ import annotations

import lightning.pytorch as pl

from textrnn.text.vocab import Vocab


class VocabDataModule(pl.LightningDataModule):
    """A data module that builds its vocabulary lazily in ``_prepare`` (on first use, e.g. by the CLI's
    argument links) and exposes what the model needs to know about it."""

    _vocab: Vocab | None = None

    def _prepare(self) -> None:
        raise NotImplementedError

    @property
    def vocab(self) -> Vocab:
        """The vocabulary (built from train, or read from ``vocab_from``)."""
        self._prepare()
        return self._vocab

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def vocab_tokens(self) -> list[str]:
        return self.vocab.itos
