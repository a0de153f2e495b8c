from textrnn.text.tokenize import char_tokenize, word_tokenize


def test_contractions_punctuation_and_html_breaks():
    text = "I don't like it's ugly<br />Can't stop, won't stop... well-made U.S. film, 3.5 stars!"
    assert word_tokenize(text) == [
        "i",
        "do",
        "n't",
        "like",
        "it",
        "'s",
        "ugly",
        "ca",
        "n't",
        "stop",
        ",",
        "wo",
        "n't",
        "stop",
        "...",
        "well-made",
        "u.s.",
        "film",
        ",",
        "3.5",
        "stars",
        "!",
    ]


def test_sst2_pretokenised_text_is_kept_as_is():
    assert word_tokenize("it 's a charming and often affecting journey . ") == [
        "it",
        "'s",
        "a",
        "charming",
        "and",
        "often",
        "affecting",
        "journey",
        ".",
    ]


def test_lowercasing_is_configurable():
    assert word_tokenize("Hello World", lowercase=False) == ["Hello", "World"]
    assert word_tokenize("Hello World") == ["hello", "world"]


def test_empty_and_whitespace_only_texts_give_no_tokens():
    assert word_tokenize("") == []
    assert word_tokenize(" \t\n <br/> ") == []


def test_char_tokenize_keeps_every_code_point():
    assert char_tokenize("ab c\né") == ["a", "b", " ", "c", "\n", "é"]
