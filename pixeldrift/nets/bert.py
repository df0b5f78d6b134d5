"""A BERT encoder in plain torch, to run pretrained BERT checkpoints without transformers.

BERT (Devlin et al. 2019) is the post-LayerNorm transformer encoder of Vaswani
et al. 2017: learned word, position and token-type embeddings summed and
normalised, then layers of self-attention and an erf-GELU MLP, each followed by
its residual sum and a LayerNorm. Importing transformers and building its model
takes seconds; this file is the few modules a frozen encoder needs, sized from
the checkpoint's own config.json and loaded from its model.safetensors
(the Hugging Face key names are mapped onto ours; see `CHECKPOINT_NAMES`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from pixeldrift.nets.io import WeightsError, describe_mismatch, read_weights

# Hugging Face checkpoint name -> ours (after an optional "bert." prefix is dropped).
CHECKPOINT_NAMES: tuple[tuple[str, str], ...] = (
    (r"embeddings\.word_embeddings\.weight", r"embeddings.word.weight"),
    (r"embeddings\.position_embeddings\.weight", r"embeddings.position.weight"),
    (r"embeddings\.token_type_embeddings\.weight", r"embeddings.token_type.weight"),
    (r"embeddings\.LayerNorm\.(weight|bias)", r"embeddings.norm.\1"),
    (r"encoder\.layer\.(\d+)\.attention\.self\.(query|key|value)\.(weight|bias)", r"layers.\1.attention.\2.\3"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.(weight|bias)", r"layers.\1.attention.out.\2"),
    (r"encoder\.layer\.(\d+)\.attention\.output\.LayerNorm\.(weight|bias)", r"layers.\1.attention_norm.\2"),
    (r"encoder\.layer\.(\d+)\.intermediate\.dense\.(weight|bias)", r"layers.\1.mlp_in.\2"),
    (r"encoder\.layer\.(\d+)\.output\.dense\.(weight|bias)", r"layers.\1.mlp_out.\2"),
    (r"encoder\.layer\.(\d+)\.output\.LayerNorm\.(weight|bias)", r"layers.\1.mlp_norm.\2"),
)
# In the checkpoint but not needed: the pooler (a tanh layer on [CLS] for next-sentence prediction)
# and transformers' saved position_ids buffer (0..max_position_embeddings-1, which we compute).
IGNORED_CHECKPOINT_KEYS = frozenset({"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"})


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT, named as in a Hugging Face config.json."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(f"hidden_size={self.hidden_size} is not divisible by "
                             f"num_attention_heads={self.num_attention_heads}")

    @classmethod
    def from_json(cls, path: str | Path) -> BertConfig:
        """Read the sizes from a config.json; other fields (dropout, architectures, ...) are ignored."""
        values = json.loads(Path(path).read_text())
        missing = [f.name for f in fields(cls) if f.name not in values]
        if missing:
            raise ValueError(f"{path} lacks BERT sizes: {', '.join(missing)}")
        if values.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{path}: only hidden_act 'gelu' (erf) is supported, got {values['hidden_act']!r}")
        return cls(**{f.name: values[f.name] for f in fields(cls)})


class BertEmbeddings(nn.Module):
    """Word + absolute position + token-type embeddings, then LayerNorm."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.word = _unset_embedding(cfg.vocab_size, cfg.hidden_size)
        self.position = _unset_embedding(cfg.max_position_embeddings, cfg.hidden_size)
        self.token_type = _unset_embedding(cfg.type_vocab_size, cfg.hidden_size)
        self.norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        return self.norm(self.word(input_ids) + self.position(positions) + self.token_type(token_type_ids))


def _unset_embedding(count: int, width: int) -> nn.Embedding:
    """An all-zero embedding table: every BERT weight comes from a checkpoint, so none is drawn at random.

    (nn.Embedding's own random init on the meta device, see `load_bert`, imports
    torch._dynamo, over a second; `from_pretrained` skips it.)
    """
    return nn.Embedding.from_pretrained(torch.zeros(count, width), freeze=False)


class BertSelfAttention(nn.Module):
    """Multi-head self-attention with separate query/key/value projections (biased, as BERT's)."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        width = cfg.hidden_size
        self.heads = cfg.num_attention_heads
        self.query, self.key, self.value = (nn.Linear(width, width) for _ in range(3))
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        q, k, v = (self._split_heads(proj(x)) for proj in (self.query, self.key, self.value))
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=key_bias)  # (N, heads, L, d)
        return self.out(out.transpose(1, 2).flatten(2))

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        n, length, width = t.shape
        return t.view(n, length, self.heads, width // self.heads).transpose(1, 2)


class BertLayer(nn.Module):
    """Post-LN: x = norm(x + attention(x)); x = norm(x + mlp(x)), the MLP with exact (erf) GELU."""

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.attention = BertSelfAttention(cfg)
        self.attention_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.mlp_in = nn.Linear(cfg.hidden_size, cfg.intermediate_size)
        self.mlp_out = nn.Linear(cfg.intermediate_size, cfg.hidden_size)
        self.mlp_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)

    def forward(self, x: torch.Tensor, key_bias: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.attention(x, key_bias))
        return self.mlp_norm(x + self.mlp_out(F.gelu(self.mlp_in(x))))


class BertEncoder(nn.Module):
    """`model(input_ids, mask) -> (N, L, hidden_size)` last hidden states; `mask` (N, L) bool marks real tokens.

    Build it with `load_bert`; `load_state_dict` also takes Hugging Face key names.
    """

    def __init__(self, cfg: BertConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embeddings = BertEmbeddings(cfg)
        self.layers = nn.ModuleList(BertLayer(cfg) for _ in range(cfg.num_hidden_layers))
        self.register_load_state_dict_pre_hook(_accept_checkpoint_names)

    def forward(self, input_ids: torch.Tensor, mask: torch.Tensor,
                token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        if input_ids.shape[1] > self.cfg.max_position_embeddings:
            raise ValueError(f"{input_ids.shape[1]} tokens, BERT has {self.cfg.max_position_embeddings} positions")
        if token_type_ids is None:
            token_type_ids = torch.zeros_like(input_ids)
        x = self.embeddings(input_ids, token_type_ids)
        key_bias = padding_bias(mask, x.dtype)
        for layer in self.layers:
            x = layer(x, key_bias)
        return x


def padding_bias(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(N, L) bool -> an additive attention bias (N, 1, 1, L): 0 at real keys, the most negative float at padding.

    A large finite negative rather than -inf: a row with no real key then gets
    uniform weights instead of NaN.
    """
    bias = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return bias.masked_fill(~mask, torch.finfo(dtype).min)[:, None, None, :]


def load_bert(model_dir: str | Path) -> BertEncoder:
    """A BertEncoder sized by `model_dir/config.json`, with the weights of `model_dir/model.safetensors`."""
    model_dir = Path(model_dir)
    cfg = BertConfig.from_json(model_dir / "config.json")
    with torch.device("meta"):  # shapes only: no memory, no random init of weights replaced at once
        model = BertEncoder(cfg)
    path = model_dir / "model.safetensors"
    tensors = rename_checkpoint(read_weights(path))
    problems = describe_mismatch(model.state_dict(), tensors)
    if problems:
        raise WeightsError(f"{path} does not match a BERT of {model_dir / 'config.json'}: " + "; ".join(problems))
    # assign=True: the loaded tensors themselves replace the meta parameters (no copy for float32)
    model.load_state_dict({name: t.float() for name, t in tensors.items()}, strict=True, assign=True)
    return model


def rename_checkpoint(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Hugging Face BERT key names -> ours; ignored keys are dropped, unknown ones kept (to be reported)."""
    renamed = {}
    for key, tensor in tensors.items():
        key = key.removeprefix("bert.")
        if key not in IGNORED_CHECKPOINT_KEYS:
            renamed[_our_name(key)] = tensor
    return renamed


def _accept_checkpoint_names(module: nn.Module, state_dict: dict[str, torch.Tensor], prefix: str, *_) -> None:
    """Let `load_state_dict` take Hugging Face names too, renamed in place.

    Training checkpoints that hold a frozen encoder built by transformers.AutoModel
    (as MiniLMTextEncoder did before) then still resume.
    """
    for key in [k for k in state_dict if k.startswith(prefix)]:
        name = key[len(prefix):]
        if name in IGNORED_CHECKPOINT_KEYS:
            del state_dict[key]
        elif _our_name(name) != name:
            state_dict[prefix + _our_name(name)] = state_dict.pop(key)


def _our_name(checkpoint_key: str) -> str:
    for pattern, replacement in CHECKPOINT_NAMES:
        match = re.fullmatch(pattern, checkpoint_key)
        if match:
            return match.expand(replacement)
    return checkpoint_key
