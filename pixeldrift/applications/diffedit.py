"""DiffEdit: an edit by inversion confined to where the two captions disagree.

Couairon et al. 2023 ("DiffEdit: Diffusion-based semantic image editing with mask guidance",
sec. 3) edit an image x0 described by a reference text R into a query text Q in three steps:

1. The mask (sec. 3.2). Noise the image's latent to a middle level, x_s = x0 + s * eps, and
   compare the denoiser's predictions under the two texts; where the texts agree (the
   background, the objects the edit leaves alone) the predictions agree too. Over `samples`
   draws of eps,

       M = 1[ normalise( mean_eps mean_channels | D(x_s, s, Q) - D(x_s, s, R) | ) >= threshold ]

   (their eq. is on the noise estimates; eps_Q - eps_R = (D_R - D_Q) / s, the same map up to a
   scale that the normalisation to [0, 1] removes).
2. DDIM encoding (applications/inversion.py): the path y_s of the image back to the level the
   edit starts from.
3. Decoding with mask guidance (sec. 3.3, eq. 5): DDIM sampling with Q from y at the start; after
   every step the latent outside the mask is put back to the encoded one at that level,

       x_{i+1} <- M * x_{i+1} + (1 - M) * y_{i+1},

   so at the end every latent outside the mask is the image's own (path[-1]) and only the
   masked region is redrawn under Q.

Everything goes through the one denoiser interface (a guided denoiser called (x, sigma, cond,
uncond)), so it works with any model the inversion works with.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from pixeldrift.sampling.samplers import _Model

MASK_SAMPLES = 10     # the paper's n, noise draws averaged into the mask
MASK_THRESHOLD = 0.5  # the paper's binarisation threshold on the normalised difference


@torch.no_grad()
def edit_mask(guided, latents: torch.Tensor, sigma: float, source: dict, target: dict, uncond: dict,
              samples: int = MASK_SAMPLES, threshold: float = MASK_THRESHOLD,
              generator: torch.Generator | None = None) -> torch.Tensor:
    """(N, 1, h, w) in {0, 1}: where the predictions under `target` and `source` differ (step 1 above).

    `guided` is a guided denoiser (sampling/guidance.CFGDenoiser): both predictions use the same
    guidance and uncond. The difference is averaged over `samples` noise draws and the channels,
    blurred over 3x3 latent pixels (the paper's smoothing of the noisy estimate), scaled to [0, 1] per
    image and thresholded.
    """
    if samples < 1:
        raise ValueError(f"the mask needs at least one noise draw, got {samples}")
    if not 0 < threshold < 1:
        raise ValueError(f"the mask threshold must be between 0 and 1, got {threshold}")
    if not sigma > 0:
        raise ValueError(f"the mask's noise level must be positive, got {sigma}")
    n = latents.shape[0]
    level = latents.new_full((n,), sigma)
    difference = latents.new_zeros(n, 1, *latents.shape[2:])
    for _ in range(samples):
        noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(latents.device)
        noisy = latents + sigma * noise
        difference += (guided(noisy, level, target, uncond) - guided(noisy, level, source, uncond)).abs().mean(
            1, keepdim=True)
    difference = F.avg_pool2d(difference / samples, 3, stride=1, padding=1, count_include_pad=False)
    low = difference.amin(dim=(2, 3), keepdim=True)
    high = difference.amax(dim=(2, 3), keepdim=True)
    normalised = (difference - low) / (high - low).clamp(min=1e-12)
    return (normalised >= threshold).to(latents.dtype)


@torch.no_grad()
def masked_decode(guided, path: list[torch.Tensor], sigmas: torch.Tensor, mask: torch.Tensor,
                  extra_args: dict) -> torch.Tensor:
    """DDIM (Euler) sampling from path[0] along `sigmas`, the latent outside `mask` reset to path[i] (step 3).

    path[i] is the encoded latent at sigmas[i] (applications/inversion.invert's path); the result
    equals path[-1], the image's latent, wherever the mask is 0.
    """
    if len(path) != len(sigmas):
        raise ValueError(f"the encoded path has {len(path)} latents for {len(sigmas)} levels")
    if mask.shape[0] != path[0].shape[0] or mask.shape[2:] != path[0].shape[2:]:
        raise ValueError(f"the mask is {tuple(mask.shape)}; the latents are {tuple(path[0].shape)}")
    model, s = _Model(guided, path[0], sigmas, extra_args), sigmas.tolist()
    x = path[0]
    for i in range(len(s) - 1):
        denoised = model(x, i)
        x = torch.lerp(denoised, x, s[i + 1] / s[i])  # x + (s_{i+1} - s_i) (x - D) / s_i
        x = mask * x + (1 - mask) * path[i + 1]
    model.finish(x)
    return x
