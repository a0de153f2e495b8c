"""`make demo`: the models that ship with textrnn first (seconds), then train the SST-2 classifier and a
character model briefly and use both checkpoints."""

from __future__ import annotations

import time

from textrnn import load_classifier, load_generator
from textrnn.training.cli import make_cli

SENTIMENT_CONFIG = "configs/sst2_bilstm_glove.yaml"
CHAR_CONFIG = "configs/shakespeare_char_cpu.yaml"
CHAR_MINUTES = 3
EXAMPLES = [
    "a gripping , beautifully acted film that stays with you",
    "the plot is thin and the jokes fall flat",
    "not bad at all",
    "i wanted to like it , but it 's a mess",
]


def fit(args: list[str]):
    """Run ``textrnn fit`` in-process; return the CLI, the best checkpoint path and the minutes taken."""
    start = time.perf_counter()
    cli = make_cli(["fit", *args])
    return cli, cli.trainer.checkpoint_callback.best_model_path, (time.perf_counter() - start) / 60


def shipped() -> None:
    """Classify and generate with the models that ship inside the package: no training, no download."""
    start = time.perf_counter()
    classifier = load_classifier("sst2-bilstm", device="cpu")
    print("sst2-bilstm (shipped; textrnn models sst2-bilstm prints its card):")
    for text, pred in zip(EXAMPLES, classifier.predict(EXAMPLES)):
        print(f"{pred.label:>8}  {pred.probability:.3f}  {text}")
    generator = load_generator("shakespeare-char", device="cpu")
    sample = generator.generate("ROMEO:", 300, temperature=0.8, seed=1)[0]
    print(f"\nshakespeare-char (shipped):\nROMEO:{sample}\n")
    print(f"({time.perf_counter() - start:.1f} s; now training both from scratch)\n")


def sentiment() -> None:
    cli, ckpt, minutes = fit(["--config", SENTIMENT_CONFIG])
    best = float(cli.trainer.checkpoint_callback.best_model_score)
    last = float(cli.trainer.callback_metrics["val_acc"])
    print(f"\nSST-2 dev accuracy: {best:.4f} (best epoch), {last:.4f} (last epoch); {minutes:.1f} min")
    print(f"checkpoint: {ckpt}\n")
    classifier = load_classifier(ckpt, device="cpu")
    for text, pred in zip(EXAMPLES, classifier.predict(EXAMPLES)):
        print(f"{pred.label:>8}  {pred.probability:.3f}  {text}")


def characters() -> None:
    cli, ckpt, minutes = fit(["--config", CHAR_CONFIG, f"--trainer.max_time=00:00:{CHAR_MINUTES:02d}:00"])
    loss = float(cli.trainer.checkpoint_callback.best_model_score)
    print(f"\nTiny Shakespeare validation loss after {minutes:.1f} min: {loss:.3f} nats/char")
    print(f"checkpoint: {ckpt}\n")
    print("ROMEO:\n" + load_generator(ckpt, device="cpu").generate("ROMEO:\n", 300, temperature=0.8, seed=1)[0])
    print(f"\nServe a model over HTTP, with a page to try it: textrnn serve sst2-bilstm (or {ckpt})")


if __name__ == "__main__":
    shipped()
    sentiment()
    characters()
