"""LightningDataModule for labelled text: read, tokenise once, build the vocab, align pretrained rows."""

from __future__ import annotations

import logging
from collections import Counter

import torch
from lightning.pytorch.accelerators import CUDAAccelerator
from torch.utils.data import DataLoader

from textrnn.errors import UserError
from textrnn.inference.loading import read_model
from textrnn.text.batching import BucketBatchSampler, EncodedTexts, pad_batch
from textrnn.text.sources import check_columns, read_file, read_hub
from textrnn.text.store import locked
from textrnn.text.tokenize import DEFAULT_MAX_TOKENS, word_tokenize
from textrnn.text.vocab import Vocab
from textrnn.training import text_store
from textrnn.training.datamodule import VocabDataModule
from textrnn.training.labels import find_label_names, label_ids
from textrnn.vectors.embeddings import Embeddings, build_embedding_matrix, leading_words

log = logging.getLogger("textrnn")
LABELLED = ("train", "validation", "test")
STAGE_SPLITS = {"fit": ("train", "validation"), "validate": ("validation",), "test": ("test",)}


class TextClassificationData(VocabDataModule):
    """Labelled text from local files or a hub dataset, in length-bucketed batches.

    Args:
        train: Training file (TSV/CSV/JSONL/parquet).
        validation: Validation file; if absent, ``val_fraction`` of train is held out with ``seed``.
        test: Test file (optional; it must have labels).
        predict: File of texts to classify (``.txt``: one per line, or a table with ``text_column``).
        dataset: A hub dataset name (e.g. ``imdb``) instead of local files; ``test`` falls back to its
            test split when that split has labels.
        dataset_config: The hub dataset's configuration name.
        text_column: Column holding the text.
        label_column: Column holding the label (int or string).
        label_names: Names of the classes: for int labels, name ``i`` is label ``i``; for string labels,
            they fix the class order. Default: the sorted labels found in train.
        val_fraction: Share of train held out when there is no validation split.
        seed: Seed of the hold-out split and of the batch order.
        lowercase: Lowercase before tokenising.
        min_freq: Words seen fewer times in train map to ``<unk>``.
        max_vocab_size: Keep at most this many words (specials included).
        max_length: Keep the first ``max_length`` tokens of each text (None: all).
        predict_max_tokens: When ``max_length`` is None, keep the first ``predict_max_tokens`` tokens of
            each text to predict, with a warning counting the texts cut (None: all). Bounds the time
            and memory a very long line costs.
        embeddings: Pretrained vectors for the embedding layer (None: random initialisation).
        batch_size: Training batch size.
        eval_batch_size: Batch size for validation, test and prediction.
        num_workers: DataLoader worker processes (batches are cheap: 0 is usually fastest).
        vocab_from: A checkpoint whose vocabulary, labels and tokeniser settings are used instead of
            building them from train (set by the CLI for validate/test/predict).
    """

    def __init__(
        self,
        train: str | None = None,
        validation: str | None = None,
        test: str | None = None,
        predict: str | None = None,
        dataset: str | None = None,
        dataset_config: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        label_names: list[str] | None = None,
        val_fraction: float = 0.1,
        seed: int = 0,
        lowercase: bool = True,
        min_freq: int = 1,
        max_vocab_size: int | None = None,
        max_length: int | None = None,
        predict_max_tokens: int | None = DEFAULT_MAX_TOKENS,
        embeddings: Embeddings | None = None,
        batch_size: int = 64,
        eval_batch_size: int = 256,
        num_workers: int = 0,
        vocab_from: str | None = None,
    ):
        super().__init__()
        self.files = {"train": train, "validation": validation, "test": test, "predict": predict}
        self.dataset, self.dataset_config = dataset, dataset_config
        self.text_column, self.label_column = text_column, label_column
        self.given_label_names = label_names
        self.val_fraction, self.seed = val_fraction, seed
        self.lowercase, self.max_length = lowercase, max_length
        if predict_max_tokens is not None and predict_max_tokens < 1:
            # a ValueError: the CLI reports a constructor's ValueError as one line
            raise ValueError(
                f"data.predict_max_tokens must be 1 or more (or null: all), not {predict_max_tokens}"
            )
        self.predict_max_tokens = predict_max_tokens
        self.min_freq, self.max_vocab_size = min_freq, max_vocab_size
        self.embeddings = embeddings
        self.batch_size, self.eval_batch_size, self.num_workers = batch_size, eval_batch_size, num_workers
        self.vocab_from = vocab_from
        self.splits: dict[str, EncodedTexts] = {}
        self._trainable_rows: int | None = None
        self._matrix: torch.Tensor | None = None

    # -- what flows to the model through link_arguments ------------------------------------------

    @property
    def label_names(self) -> list[str]:
        self._prepare()
        return self._label_names

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def tokenizer(self) -> dict:
        """Tokeniser settings stored in the checkpoint so that prediction tokenises alike."""
        return {"kind": "word", "lowercase": self.lowercase, "max_length": self.max_length}

    @property
    def trainable_rows(self) -> int | None:
        """Rows of the vocabulary built from train; words added from the vectors source come after."""
        self._prepare()
        return self._trainable_rows

    @property
    def embedding_matrix(self) -> torch.Tensor | None:
        """Pretrained rows aligned to the vocab, or None (random init, or weights from a checkpoint)."""
        self._prepare()
        return self._matrix

    # -- preparation -------------------------------------------------------------------------------

    def _prepare(self) -> None:
        if self._vocab is not None:
            return
        if self.vocab_from:
            record, _ = read_model(self.vocab_from, task="classification")
            self._vocab = Vocab(record.vocab)
            self._label_names = list(record.label_names)
            self.lowercase = record.tokenizer["lowercase"]
            self.max_length = record.tokenizer["max_length"]
            self._trainable_rows = record.net_args.get("trainable_rows")
            return
        store = text_store.store_path(self)  # before reading: a hub dataset may name the labels
        with locked(store):  # one process tokenises, the others wait and map its store
            if not text_store.restore(self, store):
                self._build()
                text_store.save(self, store)

    def _build(self) -> None:
        """Read, tokenise and encode the labelled splits; build the vocabulary and the embedding rows."""
        raw = self._read_labelled()
        if "train" not in raw:
            raise UserError("data.train: a training file or a hub dataset is needed to build the vocabulary")
        self._label_names = find_label_names(self.given_label_names, raw["train"][1])
        # rows are checked in file order, so that errors name the file's row numbers
        data = {
            split: (
                self._tokenize(texts, where),
                self._label_ids(labels, where),
            )
            for split, (texts, labels, where) in raw.items()
        }
        if "validation" not in data:
            data["train"], data["validation"] = self._hold_out(*data["train"])
        counts = Counter(tok for toks in data["train"][0] for tok in toks)
        self._vocab = Vocab.build(counts, min_freq=self.min_freq, max_size=self.max_vocab_size)
        self._trainable_rows = len(self._vocab)
        if self.embeddings is not None and self.embeddings.extend_vocab:
            self._vocab = self._vocab.extend(leading_words(self.embeddings, self.embeddings.extend_vocab))
        for split, (tokens, labels) in data.items():
            self.splits[split] = EncodedTexts(self._encode(tokens), labels)
        if self.embeddings is not None:
            train_tokens = data["train"][0]
            self._matrix, _, _ = build_embedding_matrix(self.embeddings, self._vocab, counts, train_tokens)

    def _read_labelled(self, splits=LABELLED) -> dict[str, tuple[list[str], list, str]]:
        """Read labelled splits as (texts, raw labels, where) with ``where`` naming the source."""
        columns = [self.text_column, self.label_column]
        out = {}
        if self.dataset:
            hub = read_hub(self.dataset, self.dataset_config)
            feature = next(iter(hub.values())).features.get(self.label_column)
            if self.given_label_names is None and hasattr(feature, "names"):  # a ClassLabel keeps its names
                self.given_label_names = list(feature.names)
            for split in splits:
                if split in hub and self.files.get(split) is None:
                    where = f"{self.dataset}[{split}]"
                    check_columns(hub[split], columns, where)
                    out[split] = (hub[split][self.text_column], hub[split][self.label_column], where)
            if "test" in out and all(label == -1 for label in out["test"][1]):
                log.warning("%s has no test labels (all -1): no test split", self.dataset)
                del out["test"]
        for split in splits:
            if self.files[split]:
                table = read_file(self.files[split], columns)
                out[split] = (table[self.text_column], table[self.label_column], self.files[split])
        return out

    def _hold_out(self, tokens: list[list[str]], labels: list[int]):
        """Split ``val_fraction`` of train off as validation, with a fixed seed."""
        gen = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(tokens), generator=gen).tolist()
        n_val = max(1, round(len(tokens) * self.val_fraction))
        parts = sorted(order[n_val:]), sorted(order[:n_val])
        return [([tokens[i] for i in idx], [labels[i] for i in idx]) for idx in parts]

    def _label_ids(self, labels: list, where: str) -> list[int]:
        return label_ids(labels, self._label_names, self.given_label_names is not None, where)

    def _encode(self, tokens: list[list[str]]) -> list[list[int]]:
        return [self._vocab.encode(t) for t in tokens]

    def _tokenize(self, texts: list[str], where: str, limit: int | None = None) -> list[list[str]]:
        """Tokens of each text, cut to ``max_length`` (else to ``limit``, counting the texts cut)."""
        limit = self.max_length if self.max_length is not None else limit
        out, cut = [], 0
        for row, text in enumerate(texts, 1):
            tokens = word_tokenize(text or "", self.lowercase)
            if not tokens:
                raise UserError(f"{where} row {row}: the text is empty")
            cut += limit is not None and len(tokens) > limit and self.max_length is None
            out.append(tokens[:limit])
        if cut:
            message = (
                "%s: %d text(s) longer than %d tokens were cut to their first %d (data.predict_max_tokens)"
            )
            log.warning(message, where, cut, limit, limit)
        return out

    # -- loaders -----------------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        self._prepare()
        missing = [s for s in STAGE_SPLITS.get(stage, ()) if s not in self.splits]
        for split, (texts, labels, where) in self._read_labelled(missing).items() if missing else ():
            tokens = self._tokenize(texts, where)
            self.splits[split] = EncodedTexts(
                self._encode(tokens),
                self._label_ids(labels, where),
            )
        if stage == "predict" and "predict" not in self.splits:
            path = self.files["predict"]
            if not path:
                raise UserError("data.predict: give a file of texts to classify")
            column = "text" if path.endswith(".txt") else self.text_column
            texts = read_file(path, [column])[column]
            tokens = self._tokenize(texts, path, self.predict_max_tokens)
            self.splits["predict"] = EncodedTexts(self._encode(tokens))
            self.predict_texts = texts

    def _loader(self, split: str, train: bool) -> DataLoader:
        if split not in self.splits:
            raise UserError(f"data.{split}: no {split} data was given")
        data = self.splits[split]
        trainer = self.trainer
        sampler = BucketBatchSampler(
            data.lengths,
            self.batch_size if train else self.eval_batch_size,
            shuffle=train,
            seed=self.seed,
            num_replicas=trainer.world_size if trainer and train else 1,
            rank=trainer.global_rank if trainer and train else 0,
        )
        pin = bool(trainer and isinstance(trainer.accelerator, CUDAAccelerator))
        return DataLoader(
            data,
            batch_sampler=sampler,
            collate_fn=pad_batch,
            num_workers=self.num_workers,
            pin_memory=pin,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("validation", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict", train=False)
