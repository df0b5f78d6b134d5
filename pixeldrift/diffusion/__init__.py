"""The math of diffusion: schedules, the forward process, parameterizations, losses.

This room imports nothing else of pixeldrift.
"""

from pixeldrift.diffusion.forward import add_noise, append_dims
from pixeldrift.diffusion.parameterization import (
    PARAMETERIZATIONS,
    Denoiser,
    EDMDenoiser,
    EpsDenoiser,
    FlowDenoiser,
    VDenoiser,
)
from pixeldrift.diffusion.schedules import DiscreteSchedule, flow_sigma_from_t, flow_t_from_sigma, flow_time_shift

__all__ = [
    "PARAMETERIZATIONS", "Denoiser", "DiscreteSchedule", "EDMDenoiser", "EpsDenoiser", "FlowDenoiser",
    "VDenoiser", "add_noise", "append_dims", "flow_sigma_from_t", "flow_t_from_sigma", "flow_time_shift",
]
