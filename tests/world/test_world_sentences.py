"""Signs that hold sentences (issue 23's long text): spec, prompt syntax, layout, reading back, refusals."""

import random
import numpy as np
import pytest

from pixeldrift.world import (IMAGE_SIZES, STYLES, PromptError, SpecError, TextScene, caption, paraphrase,
                              parse_prompt, render, spec_from_dict, spec_to_dict, verify)
from pixeldrift.world.font import GLYPH_HEIGHT, LETTER_PITCH, LINE_GAP
from pixeldrift.world.motion import SignSpelling
from pixeldrift.world.negatives import hard_negative
from pixeldrift.world.read_text import read_lines
from pixeldrift.world.render import sign_layout
from pixeldrift.world.spec import MAX_SIGN_LINES, MAX_SIGN_WORDS
from pixeldrift.world.palette import SIGN_LETTER_RGB
from pixeldrift.world.words import WORDS


def random_sentence(rng: random.Random) -> str:
    """2 to 5 words, dictionary words or random capitals (which reach every letter)."""
    def word():
        if rng.random() < 0.5:
            return rng.choice(WORDS)
        return "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(rng.randint(2, 6)))
    return " ".join(word() for _ in range(rng.randint(2, MAX_SIGN_WORDS)))


@pytest.mark.parametrize("size", IMAGE_SIZES)
def test_a_sentence_that_fits_renders_and_verifies_over_many_seeds_and_one_that_does_not_is_refused(size):
    rng, fitted = random.Random(size), 0
    for seed in range(300):
        sign = TextScene(random_sentence(rng), rng.choice([None, "cream", "light blue"]))
        try:
            scale, lines = sign_layout(sign.word, size)
        except SpecError as error:
            assert "does not fit" in str(error) and f"{size}-pixel" in str(error)
            with pytest.raises(SpecError, match="does not fit"):
                render(sign, size, seed)
            continue
        image = render(sign, size, seed)
        result = verify(image, sign)
        assert result.ok, (sign, seed, result.explain())
        assert read_lines(image / 255.0) == lines and result.seen["lines"] == lines and len(lines) <= MAX_SIGN_LINES
        ink = np.all(image == SIGN_LETTER_RGB, axis=-1)
        rows = np.flatnonzero(ink.any(axis=1))
        assert rows.max() + 1 - rows.min() == scale * (len(lines) * (GLYPH_HEIGHT + LINE_GAP) - LINE_GAP)
        fitted += 1
    assert fitted >= {32: 40, 64: 240, 128: 300}[size]  # every sentence fits at 128


def test_the_longest_sentences_fit_at_128_and_short_lines_get_bigger_letters():
    longest = " ".join(["PLANET"] * MAX_SIGN_WORDS)
    assert sign_layout(longest, 128) == (1, ["PLANET PLANET", "PLANET PLANET", "PLANET"])
    assert sign_layout("THE CAT SAT ON MATS", 64) == (1, ["THE CAT", "SAT ON", "MATS"])
    assert sign_layout("THE CAT SAT ON MATS", 128) == (2, ["THE CAT", "SAT ON", "MATS"])
    assert sign_layout("DOGS CAN SWIM", 64) == (2, ["DOGS", "CAN", "SWIM"])
    for size in IMAGE_SIZES:  # the lines never spill over the room a word has
        scale, lines = sign_layout("GO UP", size)
        assert scale * (LETTER_PITCH * max(map(len, lines)) - 1) <= 0.84 * size


def test_a_sentence_that_does_not_fit_names_the_size_the_room_and_where_it_fits():
    with pytest.raises(SpecError, match=r"does not fit a 64-pixel sign; accepted at size 64: up to 3 lines of 9 "
                                        r"letters and spaces \(this sentence fits at 128 pixels\)"):
        render(TextScene("PLANET ORANGE SUMMER WINTER"), 64)
    with pytest.raises(SpecError, match="fits at 64, 128 pixels"):
        render(TextScene("THE CAT SAT ON MATS"), 32)
    result = verify(render(TextScene("DOGS CAN SWIM"), 32, 0), TextScene("THE CAT SAT ON MATS"))
    assert not result.ok and "does not fit a 32-pixel sign" in result.problems[0]


@pytest.mark.parametrize("prompt, spec", [
    ('a sign reading "THE CAT SAT ON MATS"', TextScene("THE CAT SAT ON MATS")),
    ('A sign that says "the cat  sat on mats".', TextScene("THE CAT SAT ON MATS")),
    ('a sign: "GO UP"', TextScene("GO UP")),
    ("a sign saying “OPEN THE DOOR”", TextScene("OPEN THE DOOR")),
    ('the words "HELLO WORLD" on a sign on a cream background', TextScene("HELLO WORLD", "cream")),
    ('a sign with the words "SIT ON CREAM" on a white background',
     TextScene("SIT ON CREAM", "white")),
    ('a sign reading "HELLO"', TextScene("HELLO")),
    ('a sign reading " HI THERE "', TextScene("HI THERE")),
])
def test_a_sentence_is_written_in_double_quotes(prompt, spec):
    assert parse_prompt(prompt) == spec


@pytest.mark.parametrize("prompt, words", [
    ("a sign reading THE CAT SAT", 'neither one word nor one sentence in double quotes'),
    ('a sign reading "THE CAT" "SAT"', "neither one word"),
    ("the word HELLO WORLD on a sign", "neither one word"),
    ('a sign reading "THE OLD CAT SAT ON MATS"', "has 6 words; accepted: up to 5"),
    ('a sign reading "THE CAT SAT ON MATTRESS"', "'MATTRESS' in 'THE CAT SAT ON MATTRESS' is not accepted"),
    ('a sign reading "THE CAT\'S HAT"', "CAT'S"),
    ('a sign reading "GO 2 BED"', "'2'"),
    ('a sign reading ""', "word: ''"),
    ('a sign reading "HI', "neither one word"),
    ('a sign reading "ON A CREAM BACKGROUND"', "'A' in"),
])
def test_sentences_outside_the_world_are_refused_naming_why(prompt, words):
    with pytest.raises(PromptError, match=words):
        parse_prompt(prompt)


def test_the_spec_refuses_bad_sentences_and_keeps_them_through_json():
    for bad, words in [("THE  CAT", "''"), (" THE CAT", "''"), ("THE CAT ", "''"), ("A B C", "'A'"),
                       ("ONE TWO THREE FOUR FIVE SIX", "6 words"), ("HELLOWORLD", "HELLOWORLD")]:
        with pytest.raises(SpecError, match=words):
            TextScene(bad)
    sign = TextScene("THE CAT SAT", "cream")
    assert sign.is_sentence and not TextScene("CAT").is_sentence
    assert spec_from_dict(spec_to_dict(sign)) == sign


def test_captions_and_paraphrases_of_a_sentence_read_back():
    sign = TextScene("THE CAT SAT ON MATS", "light blue")
    assert caption(sign, "plain") == 'a sign that says "THE CAT SAT ON MATS"'
    assert caption(sign, "bare") == 'the words "THE CAT SAT ON MATS" on a sign'
    rng = random.Random(0)
    texts = [caption(sign, style) for style in STYLES] + [paraphrase(sign, rng, held_out=h) for h in (0, 1) * 5]
    for text in texts:
        parsed = parse_prompt(text)
        assert parsed.word == sign.word and parsed.background in (None, sign.background), text


def test_the_verifier_names_what_it_read_of_a_sentence():
    asked = TextScene("THE CAT SAT ON MATS")
    result = verify(render(TextScene("THE CAT"), 64, 0), asked)
    assert not result.ok and result.explain() == "text: read 'THE CAT', asked for 'THE CAT SAT ON MATS'"
    word_sign = verify(render(TextScene("PLANET"), 64, 0), asked)
    assert word_sign.failures[0].observed == "PLANET"
    # A one-word spec is read as before: a sentence's board does not read as one word.
    assert not verify(render(asked, 64, 0), TextScene("MATS")).ok


def test_a_sentence_is_not_a_spelled_clip_and_hard_negatives_keep_its_spaces():
    with pytest.raises(SpecError, match="sentence"):
        SignSpelling("THE CAT")
    with pytest.raises(SpecError, match="letters_shown"):
        render(TextScene("THE CAT"), 64, 0, letters_shown=2)
    rng, sign = random.Random(3), TextScene("THE CAT SAT ON MATS", "cream")
    negatives = [hard_negative(sign, rng) for _ in range(50)]
    assert sum(n.word != sign.word for n in negatives) > 40
    for negative in negatives:
        assert negative != sign and [len(w) for w in negative.word.split(" ")] == [3, 3, 3, 2, 4]
        assert not verify(render(sign, 64, 1), negative).ok
