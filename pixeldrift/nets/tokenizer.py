"""A byte-level tokenizer: any text, in any script, maps to UTF-8 bytes plus three special ids.

There is no closed word list, so no prompt is ever "out of vocabulary" (the
approach of ByT5, Xue et al. 2022). Ids 0-255 are the bytes; PAD, BOS and EOS
follow. Every sequence is `BOS bytes... EOS PAD...`; text longer than
`max_length - 2` bytes is cut at a character boundary and the cut is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

PAD_ID = 256
BOS_ID = 257
EOS_ID = 258
VOCAB_SIZE = 259


@dataclass(frozen=True)
class TokenBatch:
    """Token ids (N, L) long, mask (N, L) bool (True = real token, BOS/EOS included), and truncation."""

    ids: torch.Tensor
    mask: torch.Tensor
    truncated: tuple[bool, ...]  # per text: was it cut to fit max_length?

    @property
    def any_truncated(self) -> bool:
        return any(self.truncated)


def _cut_utf8(data: bytes, limit: int) -> bytes:
    """The longest prefix of at most `limit` bytes that does not split a character."""
    if len(data) <= limit:
        return data
    end = limit
    while end > 0 and (data[end] & 0b1100_0000) == 0b1000_0000:  # a continuation byte
        end -= 1
    return data[:end]


class ByteTokenizer:
    """UTF-8 bytes with BOS/EOS/PAD; `encode` pads a batch to a common length."""

    vocab_size = VOCAB_SIZE

    def __init__(self, max_length: int = 128) -> None:
        if max_length < 3:
            raise ValueError(f"max_length must be at least 3 (BOS, one byte, EOS), got {max_length}")
        self.max_length = max_length

    def encode(self, texts: list[str] | str, pad_to: int | None = None) -> TokenBatch:
        """Tokenize texts; pad to `pad_to` tokens (default: the longest sequence of the batch)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        bad = [type(t).__name__ for t in texts if not isinstance(t, str)]
        if bad:
            raise TypeError(f"texts must be str, got {bad}")
        rows, truncated = [], []
        for text in texts:
            data = text.encode("utf-8")
            kept = _cut_utf8(data, self.max_length - 2)
            truncated.append(len(kept) < len(data))
            rows.append([BOS_ID, *kept, EOS_ID])
        return self._pad(rows, pad_to, tuple(truncated))

    def _pad(self, rows: list[list[int]], pad_to: int | None, truncated: tuple[bool, ...]) -> TokenBatch:
        longest = max((len(r) for r in rows), default=2)
        length = longest if pad_to is None else pad_to
        if length < longest or length > self.max_length:
            raise ValueError(f"pad_to={pad_to} must be between the longest sequence ({longest}) "
                             f"and max_length ({self.max_length})")
        ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        return TokenBatch(ids=ids, mask=ids != PAD_ID, truncated=truncated)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """Token ids of one sequence back to text; special ids are dropped."""
        values = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        out_of_range = [v for v in values if not 0 <= v < VOCAB_SIZE]
        if out_of_range:
            raise ValueError(f"token ids {out_of_range[:5]} are outside the vocabulary 0..{VOCAB_SIZE - 1}")
        return bytes(v for v in values if v < 256).decode("utf-8", errors="replace")
