"""Zero-shot algorithms over a trained model: each a short loop over the one denoiser D(x, sigma, cond).

This room sits above diffusion, sampling and pipeline, and below evaluate, server and cli.
"""
