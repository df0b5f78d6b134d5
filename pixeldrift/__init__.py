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
    """Generate images; options are GenerationRequest's fields (negative_prompt, steps, sampler, seed, ...).

    Returns GeneratedImage objects: `.image` (PIL), `.record`, and `.save(path)` which writes
    a watermarked PNG labelled as AI-generated. The model is loaded once per process.
    """
    from pixeldrift.pipeline import GenerationRequest, load_model

    key = (model, device)
    if key not in _models:
        _models[key] = load_model(model, device=device)
    loaded = _models[key]
    return loaded.generate(GenerationRequest(prompt=prompt, **options), model_name=loaded.config.name)
