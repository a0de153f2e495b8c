"""textrnn: recurrent neural networks on text, with pretrained word vectors and Lightning."""

from textrnn.chardata import CharLMData
from textrnn.classify import Classifier, Prediction, load_classifier
from textrnn.data import TextClassificationData
from textrnn.generate import Generator, load_generator
from textrnn.language_model import CharLanguageModel
from textrnn.pretrained import Embeddings
from textrnn.tasks import SentimentClassifier
from textrnn.vocab import Vocab

__all__ = [
    "CharLMData",
    "CharLanguageModel",
    "Classifier",
    "Embeddings",
    "Generator",
    "Prediction",
    "SentimentClassifier",
    "TextClassificationData",
    "Vocab",
    "load_classifier",
    "load_generator",
]
