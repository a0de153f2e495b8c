"""Shared fixtures: paths to real data, tiny labelled files, and an offline, throwaway cache."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path_factory):
    """Nothing downloads and nothing is cached outside a temporary folder."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TEXTRNN_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.setenv("GENSIM_DATA_DIR", str(tmp_path_factory.getbasetemp() / "gensim-data"))


@pytest.fixture
def shared_data() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"{SHARED} is not here")
    return SHARED


TINY_ROWS = [
    ("a wonderful , moving film", 1),
    ("i loved every minute of it", 1),
    ("great acting and a great story", 1),
    ("a charming delight", 1),
    ("terrible , boring and far too long", 0),
    ("i hated it", 0),
    ("the worst film of the year", 0),
    ("dull and lifeless", 0),
]


def write_tsv(path: Path, rows, header=("sentence", "label")) -> Path:
    path.write_text("\t".join(header) + "\n" + "".join(f"{t} \t{y}\n" for t, y in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_tsv(tmp_path) -> dict[str, str]:
    """Train/validation/test TSV files in SST-2's layout (trailing space before the tab)."""
    return {
        split: str(write_tsv(tmp_path / f"{split}.tsv", TINY_ROWS * (4 if split == "train" else 1)))
        for split in ("train", "validation", "test")
    }
