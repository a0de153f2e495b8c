"""textrnn: recurrent neural networks on text, with pretrained word vectors and Lightning.

Names are imported when first used, so that loading a trained model for use (``from_pretrained``,
``load_classifier``, ``load_generator``) does not import Lightning.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "CharLMData": "textrnn.training.char_data",
    "CharLanguageModel": "textrnn.training.char_lm",
    "Classifier": "textrnn.inference.classify",
    "Embeddings": "textrnn.vectors.embeddings",
    "Generator": "textrnn.inference.generate",
    "ModelRecord": "textrnn.inference.record",
    "Prediction": "textrnn.inference.classify",
    "SentimentClassifier": "textrnn.training.classifier",
    "Task": "textrnn.inference.registry",
    "TextClassificationData": "textrnn.training.text_data",
    "TextClassifier": "textrnn.training.classifier",
    "Vocab": "textrnn.text.vocab",
    "WarmupCosine": "textrnn.training.schedules",
    "from_pretrained": "textrnn.inference.loading",
    "load_classifier": "textrnn.inference.classify",
    "load_generator": "textrnn.inference.generate",
    "register_task": "textrnn.inference.registry",
    "save_pretrained": "textrnn.inference.loading",
}
__all__ = sorted(_HOMES)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module 'textrnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
