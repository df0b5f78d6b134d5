"""Guidance for a video denoiser, on the text and on a given first frame separately.

With a first frame c_I and a caption c_T, InstructPix2Pix's two-condition guidance (Brooks et al.
2023, eq. 3) combines three denoiser calls, batched as one:

    D = D(x, -, -) + s_I (D(x, c_I, -) - D(x, -, -)) + s_T (D(x, c_I, c_T) - D(x, c_I, -))

A frame is "given" by passing it clean, at the near-zero noise level `given_sigma`, in place of the
sampler's noisy frame (the video model was trained that way: nets/temporal.py, train/video.py); the
denoised first frame returned is the given one, so every sampler ends on it. Without a first frame
this is classifier-free guidance on the text (Ho & Salimans 2022): D(x, -) + s_T (D(x, c_T) - D(x, -)).

Called as the samplers call a denoiser: (x (N, F, C, h, w), sigma (N,), cond, uncond).
"""

from __future__ import annotations

import torch

from pixeldrift.sampling.guidance import _concat_conditions

GIVEN_SIGMA = 0.002  # the noise level a given frame is passed at: the bottom of the model's sampling range


class VideoGuidance:
    def __init__(self, denoiser, text_scale: float, first_latent: torch.Tensor | None = None,
                 image_scale: float = 1.0, given_sigma: float = GIVEN_SIGMA):
        self.denoiser, self.text_scale, self.image_scale = denoiser, text_scale, image_scale
        self.first, self.given_sigma = first_latent, given_sigma  # first: (N, C, h, w) or None

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, cond: dict, uncond: dict) -> torch.Tensor:
        sigmas = sigma[:, None].expand(-1, x.shape[1])  # (N, F): one level per frame
        if self.first is None:
            return self._text_only(x, sigmas, cond, uncond)
        given, given_sigmas = self._with_first(x, sigmas)
        if self.text_scale == 1.0 and self.image_scale == 1.0:
            return self._keep_first(self.denoiser(given, given_sigmas, **cond))
        inputs = torch.cat([x, given, given])
        levels = torch.cat([sigmas, given_sigmas, given_sigmas])
        texts = _concat_conditions(uncond, _concat_conditions(uncond, cond))
        neither, image, both = self.denoiser(inputs, levels, **texts).chunk(3)
        guided = neither + self.image_scale * (image - neither) + self.text_scale * (both - image)
        return self._keep_first(guided)

    def _text_only(self, x, sigmas, cond, uncond):
        if self.text_scale == 1.0:
            return self.denoiser(x, sigmas, **cond)
        both = self.denoiser(torch.cat([x, x]), torch.cat([sigmas, sigmas]), **_concat_conditions(cond, uncond))
        d_cond, d_uncond = both.chunk(2)
        return d_uncond + self.text_scale * (d_cond - d_uncond)

    def _with_first(self, x, sigmas):
        given = x.clone()
        given[:, 0] = self.first
        levels = sigmas.clone()
        levels[:, 0] = self.given_sigma
        return given, levels

    def _keep_first(self, denoised):
        denoised = denoised.clone()
        denoised[:, 0] = self.first
        return denoised
