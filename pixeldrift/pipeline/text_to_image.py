"""Our latent text-to-image model: text encoder + denoiser (UNet or DiT) + VAE.

The text encoder is our byte-level transformer, trained with the denoiser, or
the frozen pretrained MiniLM when the config names it, or a table of class tokens
for a class-conditional model. The denoiser network
predicts what the config's `parameterization` says (EDM x0, eps, v or flow
velocity); an adapter turns each into the one denoiser D(x, sigma) -> x0.

Generation itself (text-to-image, image-to-image, inpainting, variations) lives in
LatentDiffusionPipeline; this class supplies the parts.
"""

from __future__ import annotations

import torch

from pixeldrift.diffusion.parameterization import Denoiser, EDMDenoiser, EpsDenoiser, FlowDenoiser, VDenoiser
from pixeldrift.diffusion.schedules import DiscreteSchedule
from pixeldrift.nets import VAE, DiT, TextEncoder, TextEncoderConfig, TextEncoding, UNet, UNetConfig
from pixeldrift.nets.class_label_encoder import ClassLabelEncoder, ClassLabelEncoderConfig
from pixeldrift.nets.minilm_text_encoder import MiniLMTextEncoder, MiniLMTextEncoderConfig
from pixeldrift.pipeline.latent_pipeline import LatentDiffusionPipeline
from pixeldrift.pipeline.model_folder import ModelConfig
from pixeldrift.pipeline.prompt_weights import apply_token_weights, has_weights, parse_weighted_prompt, plain_text
from pixeldrift.pipeline.request import GeneratedImage, GenerationRequest, ModelLimits, SamplingDefaults
from pixeldrift.sampling.sigma_schedules import flow_sigmas

__all__ = ["GeneratedImage", "GenerationRequest", "TextToImage"]


def make_text_encoder(config: TextEncoderConfig | MiniLMTextEncoderConfig | ClassLabelEncoderConfig):
    if isinstance(config, MiniLMTextEncoderConfig):
        return MiniLMTextEncoder(config)
    if isinstance(config, ClassLabelEncoderConfig):  # class-conditional: the prompt is a class name
        return ClassLabelEncoder(config)
    return TextEncoder(config)


# The beta ranges of eps and v models' 1000-step VP schedules: DDPM's linear one (Ho et al. 2020) and
# Stable Diffusion's scaled-linear one; the cosine schedule (Nichol & Dhariwal 2021) needs none.
BETA_RANGES = {"linear": (1e-4, 0.02), "scaled_linear": (0.00085, 0.012), "cosine": (0.00085, 0.012)}


def vp_schedule(name: str) -> DiscreteSchedule:
    beta_start, beta_end = BETA_RANGES[name]
    return DiscreteSchedule.named(name, beta_start=beta_start, beta_end=beta_end)


def make_denoiser(config: ModelConfig) -> Denoiser:
    """The config's network (UNet or DiT) behind the adapter of its parameterization."""
    net = UNet(config.denoiser) if isinstance(config.denoiser, UNetConfig) else DiT(config.denoiser)
    kind = config.parameterization
    if kind == "edm":
        return EDMDenoiser(net, sigma_data=config.sigma_data)
    if kind == "eps":
        return EpsDenoiser(net, vp_schedule(config.vp_schedule))
    if kind == "v":
        return VDenoiser(net, vp_schedule(config.vp_schedule))
    return FlowDenoiser(net)


def sampling_defaults_for(parameterization: str, schedule_name: str = "scaled_linear") -> SamplingDefaults:
    """Sampling settings that suit each parameterization's range of noise levels."""
    if parameterization in ("eps", "v"):
        schedule = vp_schedule(schedule_name)
        return SamplingDefaults(sigma_min=float(schedule.sigma_min), sigma_max=float(schedule.sigma_max))
    if parameterization == "flow":  # the flow schedule's own range, so Karras or exponential cover it too
        first, last = flow_sigmas(2)[:2].tolist()  # sigma at t_max and at t_min
        return SamplingDefaults(sampler="flow_euler", schedule="flow", steps=20, sigma_min=last, sigma_max=first)
    return SamplingDefaults()


class TextToImage(LatentDiffusionPipeline):
    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.text_encoder = make_text_encoder(config.text_encoder)
        self.denoiser = make_denoiser(config)
        self.vae = VAE(config.vae) if config.vae is not None else None
        self.loras: list = []  # (path, scale) of the LoRAs merged, in order (adapter_files.py)
        self._lora_originals: dict = {}  # layer path -> (layer, its weight before any LoRA)

    # --- personalisation files (pipeline/adapter_files.py) ------------------------------------
    def load_lora(self, path, scale: float = 1.0) -> None:
        """Merge a LoRA file at `scale` on top of any already merged; all or nothing."""
        from pixeldrift.pipeline.adapter_files import load_lora

        load_lora(self, path, scale)

    def unload_loras(self) -> None:
        """Every weight back as it was before the first LoRA, exactly."""
        from pixeldrift.pipeline.adapter_files import unload_loras

        unload_loras(self)

    def load_embedding(self, path) -> str:
        """Add a textual-inversion embedding's word to the vocabulary; returns the word."""
        from pixeldrift.pipeline.adapter_files import load_embedding

        return load_embedding(self, path)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def sampling_defaults(self) -> SamplingDefaults:
        return self.config.sampling

    @property
    def limits(self) -> ModelLimits:
        return self.config.limits

    def latent_shape(self, width: int, height: int) -> tuple[int, int, int]:
        return self.config.latent_shape(width, height)

    def pixels_to_latents(self, pixels: torch.Tensor) -> torch.Tensor:
        if self.vae is None:
            return pixels
        return self.vae.encode(pixels).mean * self.vae.cfg.latent_scale  # the posterior mean: deterministic

    def latents_to_pixels(self, latents: torch.Tensor) -> torch.Tensor:
        return self.vae.decode_latents(latents) if self.vae is not None else latents

    def encode_prompts(self, prompts: list[str], negative: list[str]) -> tuple[dict, dict]:
        """Cond and uncond token states, padded to one length so guidance can batch them."""
        texts = prompts + negative
        parsed = [parse_weighted_prompt(text) for text in texts]
        if any(has_weights(chunks) for chunks in parsed):
            both = TextEncoding.concat([self._encode_weighted(chunks) for chunks in parsed])
        else:
            both = self._encode_unique([plain_text(chunks[0]) for chunks in parsed])  # syntax removed
        n = len(prompts)
        cond = {"context": both.context[:n], "context_mask": both.context_mask[:n]}
        uncond = {"context": both.context[n:], "context_mask": both.context_mask[n:]}
        return cond, uncond

    def _encode_unique(self, texts: list[str]) -> TextEncoding:
        """Each distinct text encoded once (a batch of one prompt, its negatives: mostly repeats), then spread
        back to every row; the padded length is the longest text's either way."""
        unique = list(dict.fromkeys(texts))
        encoded = self.text_encoder.encode(unique)
        if len(unique) == len(texts):
            return encoded
        row_of = {text: row for row, text in enumerate(unique)}
        rows = [row_of[text] for text in texts]
        return TextEncoding(encoded.context[rows], encoded.context_mask[rows],
                            tuple(encoded.truncated[r] for r in rows))

    def _encode_weighted(self, chunks) -> TextEncoding:
        """One prompt: each BREAK chunk encoded on its own, weighted per byte token, joined along L."""
        parts = []
        for chunk in chunks:
            encoding = self.text_encoder.encode(plain_text(chunk))
            weights = self.text_encoder.token_weights(chunk)
            length = encoding.context.shape[1]
            weights = (weights[: length - 1] + [1.0])[:length]  # first ... last token, cut like the tokens were
            weights += [1.0] * (length - len(weights))  # word pieces of a split word may not add up
            context = apply_token_weights(encoding.context, encoding.context_mask, torch.tensor([weights]))
            parts.append(TextEncoding(context, encoding.context_mask, encoding.truncated))
        return TextEncoding(torch.cat([p.context for p in parts], 1), torch.cat([p.context_mask for p in parts], 1),
                            (any(p.truncated[0] for p in parts),))
