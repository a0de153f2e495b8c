"""Data-parallel training on CPU (gloo) through Lightning's DDP, no custom distribution code: two processes
started by Lightning on one machine, and two "nodes" started by ``torchrun`` with a rendezvous on loopback."""

import json
import os
import subprocess
import sys

import pytest
import torch
from conftest import REPO

sys.path.insert(0, str(REPO / "scripts"))
from serve_client import free_port  # noqa: E402

from textrnn import load_classifier, load_generator

ASSETS = REPO / "tests" / "assets"


def _fit_ddp(config: str, data: list[str], root, nodes: bool = False) -> list[dict]:
    """Fit for one epoch on two processes: Lightning's own launcher, or with ``nodes`` two ``torchrun``
    commands, ``--nnodes 2 --node-rank 0/1``, one process each, meeting at 127.0.0.1."""
    probe = root / "probe.yaml"
    callback = f"    - class_path: ddp_probe.RankReport\n      init_args: {{folder: '{root}'}}\n"
    probe.write_text(f"trainer:\n  callbacks:\n{callback}")
    args = ["fit", "--config", config, "--config", str(probe), *data, "--trainer.max_epochs=1"]
    args += ["--trainer.strategy=ddp", "--trainer.accelerator=cpu"]
    args += ["--trainer.logger=false", f"--trainer.default_root_dir={root}"]
    path = os.pathsep.join([str(REPO / "tests"), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    if not nodes:
        command = [sys.executable, "-m", "textrnn", *args, "--trainer.devices=2"]
        runs = [subprocess.Popen(command, cwd=root, env=env, stderr=subprocess.PIPE, text=True)]
    else:
        port, launcher = str(free_port()), [sys.executable, "-m", "torch.distributed.run", "--nnodes=2"]
        launcher += ["--nproc-per-node=1", "--master-addr=127.0.0.1", f"--master-port={port}"]
        args += ["--trainer.devices=1", "--trainer.num_nodes=2"]
        runs = [
            subprocess.Popen(
                [*launcher, f"--node-rank={rank}", "-m", "textrnn", *args],
                cwd=root,
                env=env,
                stderr=subprocess.PIPE,
                text=True,
            )
            for rank in (0, 1)
        ]
    for run in runs:
        _, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-3000:]
    ranks = [json.loads((root / f"rank{rank}.json").read_text()) for rank in (0, 1)]
    assert [r["node_rank"] for r in ranks] == ([0, 1] if nodes else [0, 0]) and ranks[0]["pid"] != ranks[1][
        "pid"
    ]
    return ranks


@pytest.mark.parametrize("nodes", [False, True], ids=["one-machine", "two-nodes-torchrun"])
def test_classifier_trains_on_two_processes(tiny_tsv, tmp_path, nodes):
    data = [f"--data.train={tiny_tsv['train']}", f"--data.validation={tiny_tsv['validation']}"]
    data.append("--data.batch_size=2")
    ranks = _fit_ddp(str(ASSETS / "tiny_classifier.yaml"), data, tmp_path, nodes)
    assert [r["rank"] for r in ranks] == [0, 1] and {r["world_size"] for r in ranks} == {2}
    assert ranks[0]["global_step"] == ranks[1]["global_step"] > 0  # equal batch counts: nobody waits forever
    seen = [{i for batch in r["batches"] for i in batch} for r in ranks]
    assert seen[0] and seen[1] and not seen[0] & seen[1]  # each process trains on its own texts
    assert ranks[0]["metrics"]["val_acc"] == ranks[1]["metrics"]["val_acc"]  # metrics agree across processes
    (ckpt,) = (tmp_path / "checkpoints").glob("epoch=*.ckpt")
    probs = load_classifier(ckpt, device="cpu").predict_proba(["a wonderful film", "dull"])
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2))


@pytest.mark.parametrize("nodes", [False, True], ids=["one-machine", "two-nodes-torchrun"])
def test_char_model_trains_on_two_processes(tmp_path, nodes):
    text = tmp_path / "text.txt"
    text.write_text("".join(f"line {i}: to be or not to be\n" for i in range(200)))
    ranks = _fit_ddp(str(ASSETS / "tiny_char.yaml"), [f"--data.files=[{text}]"], tmp_path, nodes)
    assert ranks[0]["global_step"] == ranks[1]["global_step"] > 0
    assert ranks[0]["batches"][0] != ranks[1]["batches"][0]  # different slices of the text
    assert ranks[0]["metrics"]["val_loss"] == pytest.approx(ranks[1]["metrics"]["val_loss"], abs=1e-6)
    (ckpt,) = (tmp_path / "checkpoints").glob("epoch=*.ckpt")
    assert len(load_generator(ckpt, device="cpu").generate("line", 20, seed=0)[0]) == 20
