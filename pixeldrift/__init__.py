"""pixeldrift: diffusion image generation from first principles on PyTorch.

The map of the package is in DESIGN.md; every model is a denoiser
``D(x, sigma, cond) -> x0_hat`` and every sampler a plain function over one.
"""

__version__ = "0.1.0"
