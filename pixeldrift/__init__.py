"""pixeldrift: diffusion image generation from first principles on PyTorch.

The map of the package is in DESIGN.md; every model is a denoiser
``D(x, sigma, cond) -> x0_hat`` and every sampler a plain function over one.

Two lines from Python (the embedded default model, labelled PNGs)::

    import pixeldrift
    pixeldrift.generate("three red circles above a blue square", batch_size=4)[0].save("out.png")
"""

__version__ = "0.1.0"

_models: dict = {}


def generate(prompt: str, model: str | None = None, device: str = "cpu", **options):
    """Generate images; options are GenerationRequest's fields (negative_prompt, steps, sampler, seed,
    init_image, strength, mask, ...).

    `model` is a pixeldrift model folder, a diffusers folder or a single-file Stable
    Diffusion checkpoint (see pixeldrift.pretrained.open_model); the embedded model by
    default. Returns GeneratedImage objects: `.image` (PIL), `.record`, and `.save(path)`
    which writes a watermarked PNG labelled as AI-generated. Each model loads once per process.
    """
    from pixeldrift.pipeline import GenerationRequest
    from pixeldrift.pretrained import open_model

    key = (model, device)
    if key not in _models:
        _models[key] = open_model(model, device=device)
    return _models[key].generate(GenerationRequest(prompt=prompt, **options))
