"""Sampling: samplers, sigma schedules and guidance, all over one denoiser interface."""

from pixeldrift.sampling.guidance import CFGDenoiser
from pixeldrift.sampling.samplers import SAMPLERS, STOCHASTIC_SAMPLERS, NonFiniteOutput, get_sampler
from pixeldrift.sampling.sigma_schedules import SIGMA_SCHEDULES, make_sigmas

__all__ = ["CFGDenoiser", "NonFiniteOutput", "SAMPLERS", "SIGMA_SCHEDULES", "STOCHASTIC_SAMPLERS",
           "get_sampler", "make_sigmas"]
