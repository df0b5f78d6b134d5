"""Networks pixeldrift trains: denoiser backbones (UNet, DiT), the VAE, the text encoder.

This room imports nothing of pixeldrift's outside itself but the standard-library-only
leaves atomic_write and bounded_files; otherwise only torch (and safetensors for
weights, tokenizers for the pretrained MiniLM's WordPiece). Every denoiser is called as
`net(x, noise_level, context=None, context_mask=None) -> out` with out shaped like x.
"""

from pixeldrift.nets.dit import DIT_PRESETS, DiT, DiTConfig
from pixeldrift.nets.io import WeightsError, load_weights, save_weights
from pixeldrift.nets.registry import ARCHITECTURES, build_network, resolve_config
from pixeldrift.nets.text_encoder import TEXT_ENCODER_PRESETS, TextEncoder, TextEncoderConfig, TextEncoding
from pixeldrift.nets.tokenizer import ByteTokenizer, TokenBatch
from pixeldrift.nets.unet import UNET_PRESETS, UNet, UNetConfig
from pixeldrift.nets.vae import VAE, VAE_PRESETS, DiagonalGaussian, VAEConfig

__all__ = [
    "ARCHITECTURES", "build_network", "resolve_config",
    "DIT_PRESETS", "DiT", "DiTConfig", "WeightsError", "load_weights", "save_weights",
    "TEXT_ENCODER_PRESETS", "TextEncoder", "TextEncoderConfig", "TextEncoding", "ByteTokenizer", "TokenBatch",
    "UNET_PRESETS", "UNet", "UNetConfig", "VAE", "VAE_PRESETS", "DiagonalGaussian", "VAEConfig",
]
