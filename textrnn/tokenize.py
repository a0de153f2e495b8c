"""Tokenizers: ``str -> list[str]``, pure functions with no state."""

from __future__ import annotations

import re

# PTB-style word pieces, matching how GloVe and SST-2 split English text:
# "don't" -> "do", "n't"; "it's" -> "it", "'s"; "well-made" stays whole; "..." is one token.
_WORD_RE = re.compile(
    r"\w+(?=n't\b)"  # the stem before a negation clitic
    r"|n't\b"  # the clitic itself
    r"|'(?:s|re|ve|ll|d|m)\b"  # other clitics
    r"|(?:\w\.){2,}"  # abbreviations such as u.s.
    r"|\w+(?:[-.]\w+|'(?!(?:s|re|ve|ll|d|m)\b)\w+)*"  # words: well-made, 3.5, rock'n'roll
    r"|\.\.\.|--"
    r"|[^\w\s]",  # any other single symbol
    re.IGNORECASE,
)
_HTML_BREAK_RE = re.compile(r"<\s*br\s*/?\s*>", re.IGNORECASE)


def word_tokenize(text: str, lowercase: bool = True) -> list[str]:
    """Split English text into words, punctuation and contractions.

    Args:
        text: Any string; HTML line breaks such as ``<br />`` count as whitespace.
        lowercase: Lowercase the text first (GloVe 6B is uncased).

    Returns:
        The tokens in order; empty for empty or whitespace-only text.
    """
    text = _HTML_BREAK_RE.sub(" ", text)
    if lowercase:
        text = text.lower()
    return _WORD_RE.findall(text)


def char_tokenize(text: str) -> list[str]:
    """Split text into its characters (code points)."""
    return list(text)
