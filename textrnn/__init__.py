"""textrnn: recurrent neural networks on text, with pretrained word vectors and Lightning.

Names are imported when first used, so that loading a trained model for use (``from_pretrained``,
``load_classifier``, ``load_generator``) does not import Lightning.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "CharLMData": "textrnn.chardata",
    "CharLanguageModel": "textrnn.language_model",
    "Classifier": "textrnn.classify",
    "Embeddings": "textrnn.pretrained",
    "Generator": "textrnn.generate",
    "Prediction": "textrnn.classify",
    "SentimentClassifier": "textrnn.tasks",
    "TextClassificationData": "textrnn.data",
    "Vocab": "textrnn.vocab",
    "from_pretrained": "textrnn.sharing",
    "load_classifier": "textrnn.classify",
    "load_generator": "textrnn.generate",
    "save_pretrained": "textrnn.sharing",
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
