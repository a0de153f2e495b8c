"""An ensemble of classifiers saves, loads and predicts as one model: the mean of its members' probabilities."""

import pytest
import torch
from conftest import REPO
from safetensors import safe_open

from textrnn import load_classifier
from textrnn.errors import UserError
from textrnn.inference.ensemble import join_classifiers
from textrnn.inference.folder import WEIGHTS, write_folder

MEMBER = REPO / "tests" / "assets" / "legacy_v1" / "classifier.ckpt"  # has 20 fixed rows (extend_vocab)
TEXTS = ["a gripping , beautifully acted film", "dull and lifeless", "zzyzx unseen words", "not bad at all"]


@pytest.fixture
def second_member(tmp_path):
    """The member with its trained weights moved a little: another classifier of the same vocabulary."""
    checkpoint = torch.load(MEMBER, weights_only=True)
    gen = torch.Generator().manual_seed(0)
    for key, value in checkpoint["state_dict"].items():
        if key != "net.embedding.fixed" and value.is_floating_point():
            value += 0.2 * torch.randn(value.shape, generator=gen)
    torch.save(checkpoint, tmp_path / "second.ckpt")
    return tmp_path / "second.ckpt"


def test_an_ensemble_predicts_the_mean_of_its_members(second_member, tmp_path):
    record, weights = join_classifiers([MEMBER, second_member])
    folder = write_folder(tmp_path / "ensemble", record, weights)
    members = [load_classifier(path, device="cpu").predict_proba(TEXTS) for path in (MEMBER, second_member)]
    assert not torch.allclose(members[0], members[1], atol=1e-3)
    ensemble = load_classifier(folder, device="cpu")
    torch.testing.assert_close(ensemble.predict_proba(TEXTS), (members[0] + members[1]) / 2, atol=1e-6, rtol=0)
    assert [p.label for p in ensemble.predict(TEXTS)] == [
        ["negative", "positive"][int(i)] for i in ((members[0] + members[1]) / 2).argmax(-1)
    ]


def test_the_shared_rows_are_stored_once(second_member, tmp_path):
    folder = write_folder(tmp_path / "ensemble", *join_classifiers([MEMBER, second_member]))
    with safe_open(folder / WEIGHTS, "pt") as f:
        stored = set(f.keys())
    assert "members.0.embedding.fixed" in stored and "members.1.embedding.fixed" not in stored
    net = load_classifier(folder, device="cpu").net
    assert net.members[1].embedding.fixed is net.members[0].embedding.fixed


def test_members_must_read_text_alike(tmp_path):
    with pytest.raises(UserError, match="two or more"):
        join_classifiers([MEMBER])
    other = REPO / "tests" / "assets" / "legacy_v1" / "char_lm.ckpt"
    with pytest.raises(UserError, match="a char_lm model, not classification"):
        join_classifiers([MEMBER, other])
