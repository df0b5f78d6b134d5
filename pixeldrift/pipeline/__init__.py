"""Pipelines: a text-to-image model assembled from its parts, its folder on disk, and generation.

This room sits above diffusion, sampling, nets, safety and provenance, and below
train, evaluate, server and cli.
"""

from pixeldrift.pipeline.model_folder import DEFAULT_MODEL_DIR, ModelConfig, load_model, save_model
from pixeldrift.pipeline.latent_pipeline import LatentDiffusionPipeline
from pixeldrift.pipeline.request import GeneratedImage, GenerationRequest, ModelLimits, SamplingDefaults
from pixeldrift.pipeline.text_to_image import TextToImage

__all__ = ["DEFAULT_MODEL_DIR", "GeneratedImage", "GenerationRequest", "LatentDiffusionPipeline", "ModelConfig",
           "ModelLimits", "SamplingDefaults", "TextToImage", "load_model", "save_model"]
