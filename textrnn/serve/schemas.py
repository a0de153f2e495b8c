"""The API's request bodies, built from the server's limits so that OpenAPI shows them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, create_model

STRICT = ConfigDict(extra="forbid", strict=True)  # unknown fields and "1" for 1 are errors, not guesses


@dataclass(frozen=True)
class Limits:
    """What one request may ask for; requests beyond a limit get a 4xx naming the field.

    Args:
        max_texts: Texts per classification request.
        max_text_chars: Characters per text.
        max_new_chars: Characters generated per sample.
        max_prompt_chars: Characters of a prompt.
        max_samples: Samples per generation request.
        max_body_bytes: Bytes of a request body; a longer body is refused before it is read whole.
    """

    max_texts: int = 256
    max_text_chars: int = 20_000
    max_new_chars: int = 4_000
    max_prompt_chars: int = 4_000
    max_samples: int = 8
    max_body_bytes: int = 1_000_000

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def classify_request(limits: Limits) -> type[BaseModel]:
    """The body of ``POST /v1/classify``."""
    text = Annotated[str, Field(max_length=limits.max_text_chars)]
    texts = Annotated[
        list[text], Field(min_length=1, max_length=limits.max_texts, description="texts to classify")
    ]
    return create_model("ClassifyRequest", __config__=STRICT, texts=(texts, ...))


def generate_request(limits: Limits) -> type[BaseModel]:
    """The body of ``POST /v1/generate``; the defaults are ``textrnn-generate``'s."""
    stop = Annotated[str, Field(min_length=1, max_length=100)]
    fields = {
        "prompt": (str, Field("\n", min_length=1, max_length=limits.max_prompt_chars)),
        "max_new_chars": (int, Field(500, ge=0, le=limits.max_new_chars)),
        "temperature": (float, Field(0.8, gt=0, le=10, description="below 1: safer; above 1: wilder")),
        "top_k": (int, Field(0, ge=0, description="sample among the k likeliest characters (0: all)")),
        "top_p": (float, Field(1.0, gt=0, le=1, description="nucleus sampling threshold (1: off)")),
        "seed": (int | None, Field(None, ge=0, lt=2**63, description="makes the samples reproducible")),
        "stop": (list[stop], Field([], max_length=8, description="a sample stops after one of these")),
        "num_samples": (int, Field(1, ge=1, le=limits.max_samples)),
        "stream": (bool, Field(False, description="send the characters as they are sampled (NDJSON)")),
    }
    return create_model("GenerateRequest", __config__=STRICT, **fields)


class Prediction(BaseModel):
    """One text's answer."""

    label: str
    label_id: int
    probability: float
    probabilities: dict[str, float]


class ClassifyResponse(BaseModel):
    predictions: list[Prediction]


class GenerateResponse(BaseModel):
    texts: list[str] = Field(description="each sample's continuation, without the prompt")
    stopped: list[bool] = Field(description="whether each sample ended on a stop string")
