"""Prompts to CLIP token states, the way Stable Diffusion users expect.

- A prompt is cut into windows of 75 tokens; each becomes BOS + tokens + EOS +
  padding = 77 tokens, is encoded on its own, and the windows are joined along
  the sequence (the AUTOMATIC1111 web UI's convention, so long prompts are not cut off).
- BREAK starts a new window; prompt weights `(word:1.3)` scale that word's token
  states, and each window is then rescaled to its unweighted mean
  (pixeldrift/pipeline/prompt_weights.py).
- A prompt of at most 75 tokens without weights is encoded exactly as diffusers'
  pipelines encode it, so outputs can be compared with theirs.
- Prompts of one batch are padded with empty windows to the same length.

SD 1.x and 2.x use the last hidden state; SDXL the penultimate hidden state of
both encoders side by side, plus the pooled, projected embedding of the second.

Textual-inversion words (Gal et al. 2023; pretrained/embeddings.py) are new tokens: a word
with n vectors is read, wherever the prompt has it as a word of its own (any case), as n
ids past the end of each text encoder's embedding table, whose new rows
(nets/new_tokens.py) hold the vectors; the rest of the text goes through the tokenizer
as before. Removing the words gives the tables back as they were.

Nothing here turns gradients off: every weight of a loaded model is frozen, so no graph is
built, except for the new rows textual inversion trains.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from pixeldrift.nets.new_tokens import ExtendedEmbedding, extend
from pixeldrift.pipeline.prompt_weights import apply_token_weights, has_weights, parse_weighted_prompt

WINDOW = 75  # tokens per window, before BOS and EOS
MAX_ADDED_ROWS = 16 * WINDOW  # new token rows, all words together


class ClipPromptEncoder(nn.Module):
    def __init__(self, text_encoders: list[nn.Module], tokenizers: list, penultimate: bool, pooled: bool,
                 zero_empty_negative: bool):
        super().__init__()
        self.text_encoders = nn.ModuleList(text_encoders)
        self.tokenizers = tokenizers
        self.penultimate = penultimate
        self.pooled = pooled
        self.zero_empty_negative = zero_empty_negative
        self.added: dict[str, tuple[int, int]] = {}  # word -> (its first row past the tables, its row count)
        self._eos_ids: list = []  # each encoder's eos_token_id before words were added (see add_word)

    # --- textual-inversion words ---------------------------------------------------------------
    def add_word(self, word: str, rows: list[torch.Tensor], trainable: bool = False) -> None:
        """Read `word` (lower case) as n new tokens whose input embeddings are rows[i] (n, width_i) in text
        encoder i; `trainable` leaves the new rows' gradients on (textual inversion's training)."""
        if word in self.added:
            raise ValueError(f"{word!r} is already an added word; unload the embeddings first")
        if len(rows) != len(self.text_encoders) or len({len(r) for r in rows}) != 1:
            raise ValueError(f"{word!r} needs the same number of vectors for each of the "
                             f"{len(self.text_encoders)} text encoders")
        first = sum(count for _, count in self.added.values())
        tables = [extend(encoder.get_input_embeddings(), new, MAX_ADDED_ROWS)
                  for encoder, new in zip(self.text_encoders, rows)]
        for table in tables:  # the pretrained table stays frozen either way
            table.new.requires_grad_(trainable)
        if not self.added:  # the pooled state is the EOS token's: found by its id, not as the largest id
            inners = [getattr(encoder, "text_model", encoder) for encoder in self.text_encoders]
            self._eos_ids = [inner.eos_token_id for inner in inners]
            for inner, tokenizer in zip(inners, self.tokenizers):
                inner.eos_token_id = tokenizer.eos_token_id
        for encoder, table in zip(self.text_encoders, tables):
            encoder.set_input_embeddings(table)
        self.added[word] = (first, len(rows[0]))

    def word_rows(self, word: str) -> list[torch.Tensor]:
        """The rows (n, width_i) of an added word in each text encoder's table."""
        first, count = self.added[word]
        return [encoder.get_input_embeddings().new[first:first + count] for encoder in self.text_encoders]

    def remove_words(self) -> None:
        """Every added word gone: the tables and the EOS lookup as they were."""
        if not self.added:
            return
        for encoder, eos in zip(self.text_encoders, self._eos_ids):
            table = encoder.get_input_embeddings()
            if isinstance(table, ExtendedEmbedding):
                encoder.set_input_embeddings(table.table)
            getattr(encoder, "text_model", encoder).eos_token_id = eos
        self.added.clear()

    def _token_ids(self, index: int, text: str) -> list[int]:
        """Text encoder `index`'s token ids of `text`, each added word as its rows' ids."""
        tokenizer = self.tokenizers[index]
        if not self.added:
            return tokenizer(text, add_special_tokens=False).input_ids
        words = "|".join(re.escape(word) for word in sorted(self.added, key=len, reverse=True))
        base = self.text_encoders[index].get_input_embeddings().base_size
        ids = []
        for k, piece in enumerate(re.split(rf"(?<![\w<>*])({words})(?![\w<>*])", text, flags=re.IGNORECASE)):
            if k % 2:  # a captured word
                first, count = self.added[piece.lower()]
                ids += range(base + first, base + first + count)
            elif piece:
                ids += tokenizer(piece, add_special_tokens=False).input_ids
        return ids

    def encode_pair(self, prompts: list[str], negative: list[str]) -> tuple[dict, dict]:
        """Cond and uncond dicts for the denoiser: `context` (N, 77 k, D) and for SDXL `pooled` (N, P)."""
        context, pooled = self.encode(prompts + negative)
        if self.zero_empty_negative:  # SDXL was trained with zeros for "no negative prompt"
            for i, text in enumerate(negative, start=len(prompts)):
                if not text.strip():
                    context[i] = 0
                    if pooled is not None:
                        pooled[i] = 0
        n = len(prompts)
        cond, uncond = {"context": context[:n]}, {"context": context[n:]}
        if pooled is not None:
            cond["pooled"], uncond["pooled"] = pooled[:n], pooled[n:]
        return cond, uncond

    def encode(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        parsed = [parse_weighted_prompt(text) for text in texts]
        per_encoder = [[_windows(lambda text, i=i: self._token_ids(i, text), chunks) for chunks in parsed]
                       for i in range(len(self.tokenizers))]
        count = max(len(w) for windows in per_encoder for w in windows)
        states, pooled = [], None
        for encoder, tokenizer, windows in zip(self.text_encoders, self.tokenizers, per_encoder):
            hidden, pooled_out = self._encode_windows(encoder, tokenizer, windows, count)
            states.append(hidden)
            pooled = pooled_out
        context = torch.cat(states, dim=-1)  # (N, 77 count, D1 + D2)
        for i, chunks in enumerate(parsed):
            if has_weights(chunks):
                context[i] = self._weighted(context[i], per_encoder[0][i], count)
        return context, pooled if self.pooled else None

    def _encode_windows(self, encoder, tokenizer, windows: list[list[tuple[int, float]]], count: int):
        """Token states of every text's windows (padded with empty ones to `count`), joined per text."""
        ids = [_window_ids(tokenizer, w) for text_windows in windows
               for w in text_windows + [[]] * (count - len(text_windows))]
        device = next(encoder.parameters()).device
        out = encoder(torch.tensor(ids, device=device), output_hidden_states=self.penultimate)
        hidden = out.hidden_states[-2] if self.penultimate else out.last_hidden_state  # (N count, 77, D)
        hidden = hidden.reshape(len(windows), count * hidden.shape[1], hidden.shape[2])
        pooled = getattr(out, "text_embeds", None)
        if pooled is not None:
            pooled = pooled.reshape(len(windows), count, -1)[:, 0]  # the first window's, as A1111 does
        return hidden, pooled

    def _weighted(self, context: torch.Tensor, windows, count: int) -> torch.Tensor:
        """Scale each token's states by its weight, window by window, keeping each window's mean."""
        length = context.shape[0] // count
        out = []
        for k in range(count):
            weights = [w for _, w in windows[k]] if k < len(windows) else []
            row = torch.tensor([[1.0] + weights + [1.0] * (length - 1 - len(weights))])
            part = context[k * length:(k + 1) * length][None]
            out.append(apply_token_weights(part, torch.ones(part.shape[:2], dtype=torch.bool, device=part.device),
                                           row.to(part.device))[0])
        return torch.cat(out)


def _windows(token_ids, chunks) -> list[list[tuple[int, float]]]:
    """(token id, weight) windows of at most WINDOW tokens: one or more per BREAK chunk."""
    windows = []
    for chunk in chunks:
        tokens = [(token, weight) for text, weight in chunk for token in token_ids(text)]
        windows += [tokens[i:i + WINDOW] for i in range(0, len(tokens), WINDOW)] or [[]]
    return windows or [[]]


def _window_ids(tokenizer, window: list[tuple[int, float]]) -> list[int]:
    """BOS, the tokens, EOS, then the tokenizer's own padding up to 77."""
    ids = [tokenizer.bos_token_id] + [token for token, _ in window] + [tokenizer.eos_token_id]
    return ids + [tokenizer.pad_token_id] * (WINDOW + 2 - len(ids))
