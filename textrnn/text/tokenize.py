"""Tokenizers: ``str -> list[str]``, pure functions with no state."""

from __future__ import annotations

import re
import unicodedata

# Tokens read per text to classify when the model's tokenizer has no max_length: bounds the time and
# memory of one prediction (a 1 MB line is about 200,000 tokens); longer texts are cut with a warning.
DEFAULT_MAX_TOKENS = 10_000

# PTB-style word pieces, matching how GloVe and SST-2 split English text:
# "don't" -> "do", "n't"; "it's" -> "it", "'s"; "well-made" stays whole; "..." is one token.
# Branches that start at a word character sit under one leading \w, so a space or a symbol rejects them
# after one character test; and a word followed by neither ' nor . (most words) is taken first, before
# the negation-stem branch scans it and backs off it character by character. Branches that can match at
# the same position keep their order, so the tokens are those of the plain list of alternatives
# (\w+(?=n't\b) | n't\b | '(?:s|re|..)\b | (?:\w\.){2,} | \w+(?:..)* | ...) at about 1.5x its speed.
_CLITIC = r"(?:s|re|ve|ll|d|m)\b"
_JOINED = rf"(?:[-.]\w+|'(?!{_CLITIC})\w+)*"  # joined words: well-made, 3.5, rock'n'roll
_WORD_RE = re.compile(
    r"\w(?:"  # a token starting with a word character:
    rf"\w*(?![\w.']){_JOINED}"  # a word not followed by ' or . (none of the next three can match then)
    r"|\w*(?=n't\b)"  # the stem before a negation clitic
    r"|(?<=n)'t\b"  # the clitic n't itself
    r"|\.\w\.(?:\w\.)*"  # abbreviations such as u.s.
    rf"|\w*{_JOINED}"  # other words
    r")"
    rf"|'{_CLITIC}"  # other clitics
    r"|\.\.\.|--"
    r"|[^\w\s]",  # any other single symbol
    re.IGNORECASE,
)
_HTML_BREAK_RE = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def word_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split English text into words, punctuation and contractions.

    Args:
        text: Any string; HTML line breaks such as ``<br />`` count as whitespace. Text is read in
            Unicode NFC form, so a decomposed accent (``e`` + U+0301) stays in its word as ``é``.
        lowercase: Lowercase the text first (GloVe 6B is uncased).

    Returns:
        The tokens in order; empty for empty or whitespace-only text.
    """
    if "<" in text:  # the substitution costs more than this test, and most texts have no tag
        text = _HTML_BREAK_RE.sub(" ", text)
    if lowercase:
        text = text.lower()
    # combining marks are not \w: in decomposed (NFD) text they would split "café" into "cafe", "\u0301"
    if not text.isascii() and not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return _WORD_RE.findall(text)


def char_tokenize(text: str) -> list[str]:
    """Split text into its characters (code points)."""
    return list(text)


def tokenize(text: str, settings: dict) -> list[str]:
    """``text`` split as a model's tokenizer ``settings`` say: ``{"kind": "word", "lowercase": ...,
    "max_length": ...}`` (words, cut to ``max_length``) or ``{"kind": "char"}`` (characters)."""
    if settings.get("kind") == "char":
        return char_tokenize(text)
    return word_tokenize(text, settings.get("lowercase", True))[: settings.get("max_length")]
