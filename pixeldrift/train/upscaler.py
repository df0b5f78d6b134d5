"""`pixeldrift train upscaler`: an SR3 super-resolution model trained on world renders, on crops.

The loss is SR3's (Saharia et al. 2021, Algorithm 1: noise the high-resolution image, ask the
denoiser conditioned on the low-resolution one to undo it), written in sigma space with EDM's
preconditioning, weighting and log-normal noise levels (Karras et al. 2022, Table 1), the same
weighted denoising loss as every model here (diffusion/losses.denoising_loss); with a residual
denoiser (pipeline/upscaler.py) it is the same loss on x0 - the enlargement. The pairs are crops
of 256-px training-split renders beside the same crops of their enlarged box reductions
(data/upscale_stream.py): the network is convolutional, so it learns from crops and samples whole
images. The run resumes exactly like the others and refuses a resume with another network or crop.
"""

from __future__ import annotations

import math
from dataclasses import asdict, replace
from pathlib import Path

from torch import nn

from pixeldrift.data.upscale_stream import UpscaleStream
from pixeldrift.diffusion.losses import denoising_loss, lognormal_sigma_sampler
from pixeldrift.pipeline.upscaler import MAX_NAME, Upscaler, UpscalerConfig
from pixeldrift.pipeline.upscaler_folder import save_upscaler
from pixeldrift.train.run import init_distributed
from pixeldrift.train.run_record import keep_run_record
from pixeldrift.train.trainer import Trainer, TrainerConfig

EDM_P_MEAN, EDM_SIGMA_DATA = -1.2, 0.5   # EDM's training noise levels are centred here for data of this scale


class UpscalerTraining(nn.Module):
    """forward(pairs (N, 6, c, c): high-res crops in [-1, 1], then the enlarged low-res crops; captions, noise)
    -> the per-sample loss (N,). Captions are not read: the condition is the image.

    Noise levels: EDM's log-normal with P_std 1.2 and P_mean -1.2 + ln(sigma_data / 0.5), i.e. where EDM puts it
    for sigma_data 0.5 (Karras et al. 2022, Table 1), moved with the scale of what is predicted (residuals: 0.15)."""

    def __init__(self, model: Upscaler, p_std: float = 1.2):
        super().__init__()
        p_mean = EDM_P_MEAN + math.log(model.config.sigma_data / EDM_SIGMA_DATA)
        self.model, self.draw_sigma = model, lognormal_sigma_sampler(p_mean, p_std)

    def forward(self, pairs, captions, noise):
        high, low_res = pairs[:, :3], pairs[:, 3:]  # (N, 3, c, c) each
        sigma = noise.draw(self.draw_sigma)
        return denoising_loss(self.model.denoiser, high, sigma, noise.randn(*high.shape[1:]), low_res=low_res)


def upscaler_trainer(out: Path, config: TrainerConfig, model_config: UpscalerConfig = UpscalerConfig(),
                     crop: int = 64) -> Trainer:
    """The run's trainer: a fresh upscaler on crops of world renders at its output size."""
    model = Upscaler(model_config)
    data = UpscaleStream(seed=config.seed, size=model.out_size, factor=model_config.factor, crop=crop)
    return Trainer(UpscalerTraining(model), data, config, out)


def train_upscaler(out: Path, config: TrainerConfig, model_config: UpscalerConfig = UpscalerConfig(),
                   crop: int = 64, export: Path | None = None, resume: bool = False, dtype: str = "float16",
                   command: str = "") -> Upscaler:
    """Train (or resume) and, with `export`, write the upscaler folder; returns the EMA upscaler."""
    init_distributed(config.device)
    trainer = upscaler_trainer(out, config, model_config, crop)
    run = {"upscaler": model_config.to_dict(), "crop": crop}
    keep_run_record(Path(out) / "upscaler_run.json", run, resume, writer=trainer.rank == 0)
    if resume:
        trainer.resume()
    trainer.fit()
    shipped = trainer.ema.model.model
    if export is not None and trainer.rank == 0:
        shipped.config = replace(shipped.config, name=Path(export).name[:MAX_NAME] or "upscaler")
        training = {"trainer": asdict(config), "crop": crop, "data": "world renders (training split), box-reduced",
                    "steps_done": trainer.step, "command": command}
        save_upscaler(shipped, export, training, dtype)
    return shipped
