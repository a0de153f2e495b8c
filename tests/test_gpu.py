"""The CUDA path, measured on a GPU (skipped without one): training in fp32, bf16-mixed and 16-mixed, packed
sequences in cuDNN with the lengths kept in pinned CPU memory, the one-step generation kernels, CUDA vs CPU
results for the same weights, CUDA checkpoints on a CPU-only process, ONNX export, and a 1-GPU DDP run.

Only the public API and the command line are used. All fits run at once, as separate processes, at the start
(about a minute on one GPU; tests/gpu_fits.py starts them); ``scripts/gpu_check.sh`` runs this file. With
``TEXTRNN_GPU_REPORT=path`` the measured differences and each fit's facts are also written to that JSON file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
from gpu_fits import CHAR_TEXT, CONFIGS, PRECISIONS, STEPS, Fit, process_env, run_fits

import textrnn

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

HEAD_DTYPE = {"32-true": "float32", "bf16-mixed": "bfloat16", "16-mixed": "float16"}
TOLERANCE = 1e-4  # fp32, as tests/test_export.py
# a mix of lengths (1 token to a few hundred, unsorted) so packing, padding and pooling all matter
TEXTS = [
    "a wonderful , moving film",
    "dull",
    "i hated it",
    "the worst film of the year " * 12,
    "great acting and a great story , a charming delight",
    "zzz unknown words and the film",
    " ".join(["i loved every minute of it , but"] * 40),
    "terrible , boring and far too long",
]
PROMPT = "line 1"
RECORD: dict = {}


@pytest.fixture(scope="module")
def fits(tmp_path_factory) -> dict[str, Fit]:
    """Every fit of this file, run at the same time: both tasks in each precision, and a 1-GPU DDP run each."""
    return run_fits(tmp_path_factory.mktemp("gpu"), RECORD)


@pytest.fixture(scope="module", autouse=True)
def _write_record():
    """Write what the tests measured to $TEXTRNN_GPU_REPORT (for scripts/gpu_summary.py), at the end."""
    yield
    path = os.environ.get("TEXTRNN_GPU_REPORT")
    if path and RECORD:
        RECORD["device_name"] = torch.cuda.get_device_name(0)
        Path(path).write_text(json.dumps(RECORD, indent=1) + "\n")


@contextmanager
def exact_fp32():
    """Full fp32 on the GPU: no TF32 in cuBLAS matmuls nor in cuDNN (whose RNNs default to TF32 on
    Ampere and newer in recent PyTorch); restored afterwards."""
    matmul, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    rnn = getattr(cudnn, "rnn", None)  # the per-operator setting of newer PyTorch
    saved = (matmul.allow_tf32, cudnn.allow_tf32, getattr(rnn, "fp32_precision", None))
    matmul.allow_tf32 = cudnn.allow_tf32 = False
    if saved[2] is not None:
        rnn.fp32_precision = "ieee"
    try:
        yield
    finally:
        matmul.allow_tf32, cudnn.allow_tf32 = saved[:2]
        if saved[2] is not None:
            rnn.fp32_precision = saved[2]


def padded(classifier, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """ids (B, T) padded with 0 and their lengths (B,) on the CPU, as the classifier encodes the texts."""
    ids = [torch.tensor(classifier.encode(t)) for t in texts]
    lengths = torch.tensor([len(i) for i in ids])
    return torch.nn.utils.rnn.pad_sequence(ids, batch_first=True), lengths


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float().cpu() - b.float().cpu()).abs().max())


# ---------------------------------------------------------------------------------------------- training


@pytest.mark.parametrize("precision", PRECISIONS)
@pytest.mark.parametrize("task", list(CONFIGS))
def test_trains_on_cuda(fits, task, precision):
    fit = fits[f"{task}-{precision}-auto"]
    report = fit.check()
    assert report["device"].startswith("cuda") and report["global_step"] == STEPS
    assert report["precision"] == precision and report["param_dtype"] == "float32"  # master weights stay fp32
    assert report["layers"]["head"]["output_dtype"] == HEAD_DTYPE[precision], report["layers"]  # autocast on
    losses = report["losses"]
    assert len(losses) >= STEPS and report["losses_finite"]  # (16-mixed: a skipped step may not count)
    assert sum(losses[-20:]) < 0.5 * sum(losses[:20]), (losses[:5], losses[-5:])  # it learns
    batch = report["first_batch"]
    if task == "classifier":
        # ids go to the GPU; the lengths stay on the CPU, in pinned memory, for cuDNN's packed sequences
        assert batch["ids"]["device"].startswith("cuda") and batch["labels"]["device"].startswith("cuda")
        assert batch["lengths"]["device"] == "cpu" and batch["lengths"]["pinned"], batch
        assert report["layers"]["rnn"]["input"] == "PackedSequence", report["layers"]
        assert report["metrics"]["val_acc"] >= 0.75
    else:
        assert all(t["device"].startswith("cuda") for t in batch), batch
        assert report["metrics"]["val_loss"] < 1.5  # uniform over the characters would be about 3.3


def test_precisions_reach_similar_results(fits):
    """bf16 and fp16 autocast train about as well as fp32 on the same steps."""
    for task, metric, margin in (("classifier", "val_acc", 0.25), ("char", "val_loss", 0.3)):
        values = {p: fits[f"{task}-{p}-auto"].check()["metrics"][metric] for p in PRECISIONS}
        RECORD.setdefault("final_metrics", {})[task] = values
        assert max(values.values()) - min(values.values()) <= margin, values


@pytest.mark.parametrize("task", list(CONFIGS))
def test_ddp_on_one_gpu(fits, task):
    report = fits[f"{task}-32-true-ddp"].check()
    assert report["strategy"] == "DDPStrategy" and report["world_size"] == 1
    assert report["device"].startswith("cuda") and report["global_step"] == STEPS
    assert report["losses_finite"] and sum(report["losses"][-20:]) < 0.5 * sum(report["losses"][:20])
    # the same weights and batches as the single-device fp32 run: DDP on one GPU changes nothing
    plain = fits[f"{task}-32-true-auto"].check()
    metric, margin = ("val_acc", 0.125) if task == "classifier" else ("val_loss", 0.1)  # 0.125: one of 8 texts
    assert report["metrics"][metric] == pytest.approx(plain["metrics"][metric], abs=margin)


# ------------------------------------------------------------------------------------ CUDA vs the CPU


def test_classifier_logits_on_cuda_equal_the_cpu_path(fits):
    """cuDNN on packed sequences (CUDA) against the unpacked CPU path, same weights, full fp32."""
    diffs = {}
    for precision in PRECISIONS:  # the weights of every precision's run are fp32
        ckpt = fits[f"classifier-{precision}-auto"].checkpoint
        cpu = textrnn.load_classifier(ckpt, device="cpu")
        cuda = textrnn.load_classifier(ckpt, device="cuda")
        assert cuda.device.type == "cuda" and cpu.device.type == "cpu"
        ids, lengths = padded(cpu, TEXTS)
        with torch.inference_mode(), exact_fp32():
            expected = cpu.net(ids, lengths)
            got = cuda.net(ids.cuda(), lengths)  # lengths on the CPU, as documented
            alone = cuda.net(ids[1:2, : lengths[1]].cuda(), lengths[1:2])  # no padding, batch of one
            probs = cuda.predict_proba(TEXTS)
        diffs[precision] = max_diff(got, expected)
        torch.testing.assert_close(got.cpu(), expected, atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(alone.cpu(), expected[1:2], atol=TOLERANCE, rtol=0)
        torch.testing.assert_close(probs, cpu.predict_proba(TEXTS), atol=TOLERANCE, rtol=0)
    RECORD["classifier_cuda_vs_cpu_max_abs_diff_fp32"] = diffs


def test_default_tf32_settings_stay_close_to_the_cpu(fits):
    """With PyTorch's default settings cuDNN may use TF32 (10-bit mantissa): looser, and recorded."""
    ckpt = fits["classifier-32-true-auto"].checkpoint
    cpu, cuda = textrnn.load_classifier(ckpt, device="cpu"), textrnn.load_classifier(ckpt, device="cuda")
    ids, lengths = padded(cpu, TEXTS)
    with torch.inference_mode():
        expected, got = cpu.net(ids, lengths), cuda.net(ids.cuda(), lengths).cpu()
    RECORD["classifier_cuda_vs_cpu_max_abs_diff_default_settings"] = max_diff(got, expected)
    torch.testing.assert_close(got, expected, atol=5e-2, rtol=1e-2)
    assert (got.argmax(1) == expected.argmax(1)).all()


def test_char_model_on_cuda_equals_the_cpu(fits):
    """Whole-sequence logits, the one-step kernels (batch < 32), the fused step (batch >= 32), greedy text."""
    ckpt = fits["char-32-true-auto"].checkpoint
    cpu, cuda = textrnn.load_generator(ckpt, device="cpu"), textrnn.load_generator(ckpt, device="cuda")
    ids = cpu.encode_prompt(CHAR_TEXT[:300]).unsqueeze(0).expand(3, -1)
    with torch.inference_mode(), exact_fp32():
        expected, _ = cpu.net(ids)
        got, _ = cuda.net(ids.cuda())
        diffs = {"forward": max_diff(got, expected)}
        torch.testing.assert_close(got.cpu(), expected, atol=TOLERANCE, rtol=0)
        for batch in (1, 40):  # below and above the size where generation switches kernels
            state_cpu = state_cuda = None
            for t in range(20):
                x = ids[:1, t].expand(batch)
                out_cpu, state_cpu = cpu.net.step(x, state_cpu)
                out_cuda, state_cuda = cuda.net.step(x.cuda(), state_cuda)
            diffs[f"step_batch_{batch}"] = max_diff(out_cuda, out_cpu)
            torch.testing.assert_close(out_cuda.cpu(), out_cpu, atol=TOLERANCE, rtol=0)
            torch.testing.assert_close(out_cpu, expected[:1, 19].expand(batch, -1), atol=TOLERANCE, rtol=0)
        for batch in (1, 40):
            text_cpu = cpu.generate(PROMPT, 200, greedy=True, seed=0, num_samples=batch)
            text_cuda = cuda.generate(PROMPT, 200, greedy=True, seed=0, num_samples=batch)
            assert text_cuda == text_cpu, (batch, text_cuda[0], text_cpu[0])
            assert len(set(text_cuda)) == 1 and len(text_cuda[0]) == 200
    RECORD["char_cuda_vs_cpu_max_abs_diff_fp32"] = diffs


def test_sampled_generation_runs_on_cuda_in_batches(fits):
    gen = textrnn.load_generator(fits["char-bf16-mixed-auto"].checkpoint, device="cuda")
    texts = gen.generate(PROMPT, 100, seed=0, num_samples=64, temperature=0.8, top_k=5)
    assert len(texts) == 64 and all(len(t) == 100 for t in texts)
    assert texts == gen.generate(PROMPT, 100, seed=0, num_samples=64, temperature=0.8, top_k=5)  # seeded


# ------------------------------------------------------------------------- CUDA checkpoints, CPU only

CPU_ONLY_LOAD = """
import json, sys, torch, textrnn
assert not torch.cuda.is_available()
out = {}
for kind, path in json.loads(sys.argv[1]):
    if kind == "classifier":
        out[path] = textrnn.load_classifier(path).predict_proba(json.loads(sys.argv[2])).tolist()
    else:
        out[path] = textrnn.load_generator(path).generate("line 1", 100, greedy=True, seed=0)
print(json.dumps(out))
"""


def test_cuda_checkpoints_load_in_a_cpu_only_process(fits, tmp_path):
    wanted = [(f.task, str(f.checkpoint)) for f in fits.values()]
    env = process_env(tmp_path, CUDA_VISIBLE_DEVICES="")
    run = subprocess.run(
        [sys.executable, "-c", CPU_ONLY_LOAD, json.dumps(wanted), json.dumps(TEXTS)],
        env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    for task, path in wanted:
        if task == "classifier":
            expected = textrnn.load_classifier(path, device="cpu").predict_proba(TEXTS)
            torch.testing.assert_close(torch.tensor(loaded[path]), expected, atol=1e-6, rtol=0)
        else:
            assert loaded[path] == textrnn.load_generator(path, device="cpu").generate(PROMPT, 100, greedy=True)


@pytest.mark.parametrize("task", list(CONFIGS))
def test_cuda_checkpoint_exports_to_onnx_equal_to_pytorch(fits, task, tmp_path):
    import onnxruntime as ort

    ckpt = fits[f"{task}-bf16-mixed-auto"].checkpoint
    out = tmp_path / "model.onnx"
    command = [sys.executable, "-m", "textrnn", "export", "--checkpoint", str(ckpt), "--format", "onnx"]
    env = process_env(tmp_path, CUDA_VISIBLE_DEVICES="")  # the export runs where no GPU is
    run = subprocess.run([*command, "--out", str(out)], env=env, capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and out.is_file(), run.stderr[-3000:]
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    if task == "classifier":
        clf = textrnn.load_classifier(ckpt, device="cpu")
        ids, lengths = padded(clf, TEXTS)
        with torch.inference_mode():
            expected = clf.net(ids, lengths)
        assert names == ["ids", "lengths"]
        got = torch.from_numpy(session.run(None, {"ids": ids.numpy(), "lengths": lengths.numpy()})[0])
        RECORD.setdefault("onnx_vs_pytorch_max_abs_diff", {})[task] = max_diff(got, expected)
        torch.testing.assert_close(got, expected, atol=TOLERANCE, rtol=0)
        return
    gen = textrnn.load_generator(ckpt, device="cpu")
    ids = gen.encode_prompt(CHAR_TEXT[:50]).unsqueeze(0).expand(2, -1).contiguous()
    layers, _, hidden = session.get_inputs()[1].shape  # (layers, batch, hidden); batch is dynamic
    torch.manual_seed(0)
    state = tuple(torch.randn(layers, 2, hidden) * 0.5 for _ in names[1:])  # a state from mid-text
    with torch.inference_mode():
        expected, expected_state = gen.net(ids, state if len(state) > 1 else state[0])
    feeds = {"ids": ids.numpy(), **{n: s.numpy() for n, s in zip(names[1:], state)}}
    logits, *new_state = (torch.from_numpy(a) for a in session.run(None, feeds))
    RECORD.setdefault("onnx_vs_pytorch_max_abs_diff", {})[task] = max_diff(logits, expected)
    torch.testing.assert_close(logits, expected, atol=TOLERANCE, rtol=0)
    expected_state = expected_state if isinstance(expected_state, tuple) else (expected_state,)
    for got_s, want_s in zip(new_state, expected_state):
        torch.testing.assert_close(got_s, want_s, atol=TOLERANCE, rtol=0)
