import json
import time

import pytest
import torch
from conftest import TINY_ROWS, write_tsv

from textrnn.errors import UserError
from textrnn.training.text_data import TextClassificationData


def _data(**kwargs) -> TextClassificationData:
    data = TextClassificationData(text_column="sentence", **kwargs)
    data.setup("fit")
    return data


def test_vocab_comes_from_train_only_and_labels_are_named(tiny_tsv, tmp_path):
    val = write_tsv(tmp_path / "val.tsv", [("a unseenword film", 1)])
    data = _data(train=tiny_tsv["train"], validation=str(val), label_names=["negative", "positive"])
    assert "unseenword" not in data.vocab and "wonderful" in data.vocab
    assert data.label_names == ["negative", "positive"] and data.num_classes == 2
    assert data.splits["validation"][0][1].tolist() == [data.vocab.stoi["a"], 1, data.vocab.stoi["film"]]
    assert len(data.splits["train"]) == 4 * len(TINY_ROWS)


def test_validation_is_carved_from_train_with_a_fixed_seed(tiny_tsv):
    a = _data(train=tiny_tsv["train"], val_fraction=0.25, seed=1)
    b = _data(train=tiny_tsv["train"], val_fraction=0.25, seed=1)
    assert len(a.splits["validation"]) == 8 and len(a.splits["train"]) == 24
    assert torch.equal(a.splits["validation"].ids, b.splits["validation"].ids)


def test_string_labels_multiclass_jsonl(tmp_path):
    rows = [{"text": t, "label": y} for t, y in [("good", "pos"), ("bad", "neg"), ("meh", "neutral")] * 5]
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    data = TextClassificationData(train=str(path), val_fraction=0.2)
    data.setup("fit")
    assert data.label_names == ["neg", "neutral", "pos"]
    ids = data.splits["train"].labels.tolist() + data.splits["validation"].labels.tolist()
    assert sorted(set(ids)) == [0, 1, 2]


def test_csv_with_quotes_and_parquet(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"review": ['he said "wow", twice', "null", "nan"] * 4, "y": [1, 0, 0] * 4})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for name in ("t.csv", "t.parquet"):
        data = TextClassificationData(train=str(tmp_path / name), text_column="review", label_column="y")
        data.setup("fit")
        assert {"wow", '"', "null", "nan"} <= set(data.vocab.itos)


def test_training_batches_are_tokenised_once_and_padded_to_their_longest(tiny_tsv, monkeypatch):
    data = _data(train=tiny_tsv["train"], validation=tiny_tsv["validation"], batch_size=4)
    import textrnn.training.text_data as module

    monkeypatch.setattr(module, "word_tokenize", lambda *a: pytest.fail("tokenised again"))
    for _ in range(2):
        for batch in data.train_dataloader():
            assert batch["ids"].shape[1] == batch["lengths"].max()
            assert (batch["ids"] != 0).sum(1).tolist() == batch["lengths"].tolist()


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("fine", 1), ("   ", 0)], r"train.tsv row 2: the text is empty"),
        ([("fine", 1), ("bad", 7)], r"train.tsv row 2: label 7 is not one of \['negative', 'positive'\]"),
    ],
)
def test_bad_rows_name_the_file_and_row(tmp_path, rows, message):
    path = write_tsv(tmp_path / "train.tsv", rows)
    with pytest.raises(UserError, match=message):
        _data(train=str(path), label_names=["negative", "positive"])


def test_bad_files_get_one_clear_line(tmp_path):
    (tmp_path / "empty.tsv").write_text("")
    (tmp_path / "latin1.tsv").write_bytes("sentence\tlabel\ngood\t1\ncaf\xe9\t0\n".encode("latin-1"))
    write_tsv(tmp_path / "cols.tsv", [("a", 1)], header=("text", "label"))
    cases = {
        str(tmp_path / "missing.tsv"): "missing.tsv: no such file",
        str(tmp_path / "empty.tsv"): "empty.tsv: the file is empty",
        str(tmp_path / "latin1.tsv"): "latin1.tsv line 3: not valid UTF-8",
        str(tmp_path / "cols.tsv"): "cols.tsv: no column 'sentence' \\(columns: text, label\\)",
    }
    for path, message in cases.items():
        with pytest.raises(UserError, match=message):
            _data(train=path)


def test_hub_dataset_offline_fails_fast_with_advice():
    start = time.perf_counter()
    with pytest.raises(UserError, match="point data.train / data.validation / data.test at local"):
        _data(dataset="stanfordnlp/imdb-not-cached-here")
    assert time.perf_counter() - start < 1.0
