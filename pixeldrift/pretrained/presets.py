"""The published architectures of SD 1.x, SD 2.x and SDXL base, for single files that carry no config.

The numbers are those of the models' own diffusers configs. A single file of a
fine-tune has the same shapes as its base; any file whose shapes differ is
reported key by key when it is loaded (pass config= a diffusers folder for such models).
"""

from __future__ import annotations

_SCHEDULER = {"beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
              "num_train_timesteps": 1000, "steps_offset": 1, "timestep_spacing": "leading"}
_VAE = {"in_channels": 3, "out_channels": 3, "latent_channels": 4, "layers_per_block": 2,
        "block_out_channels": [128, 256, 512, 512], "down_block_types": ["DownEncoderBlock2D"] * 4,
        "up_block_types": ["UpDecoderBlock2D"] * 4, "norm_num_groups": 32, "sample_size": 512,
        "scaling_factor": 0.18215}
_UNET = {"in_channels": 4, "out_channels": 4, "layers_per_block": 2, "block_out_channels": [320, 640, 1280, 1280],
         "down_block_types": ["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"],
         "up_block_types": ["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3, "sample_size": 64}
_CLIP_L = {"vocab_size": 49408, "hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
           "num_attention_heads": 12, "max_position_embeddings": 77, "hidden_act": "quick_gelu",
           "projection_dim": 768, "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1}
_OPEN_CLIP = {"vocab_size": 49408, "max_position_embeddings": 77, "hidden_act": "gelu",
              "bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 1}

PRESETS = {
    "sd1": {
        "unet": {**_UNET, "cross_attention_dim": 768, "attention_head_dim": 8},
        "vae": _VAE,
        "text_encoders": [("CLIPTextModel", _CLIP_L)],
        "pad_tokens": ["<|endoftext|>"],
        "scheduler": _SCHEDULER,
    },
    "sd2": {
        # the last of OpenCLIP-H's 24 layers is unused: SD 2.x reads the penultimate one
        "unet": {**_UNET, "cross_attention_dim": 1024, "attention_head_dim": [5, 10, 20, 20],
                 "use_linear_projection": True, "sample_size": 96},
        "vae": {**_VAE, "sample_size": 768},
        "text_encoders": [("CLIPTextModel", {**_OPEN_CLIP, "hidden_size": 1024, "intermediate_size": 4096,
                                             "num_hidden_layers": 23, "num_attention_heads": 16,
                                             "projection_dim": 512})],
        "pad_tokens": ["!"],
        "scheduler": _SCHEDULER,
    },
    "sdxl": {
        "unet": {"in_channels": 4, "out_channels": 4, "layers_per_block": 2, "block_out_channels": [320, 640, 1280],
                 "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                 "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
                 "transformer_layers_per_block": [1, 2, 10], "attention_head_dim": [5, 10, 20],
                 "cross_attention_dim": 2048, "use_linear_projection": True, "addition_embed_type": "text_time",
                 "addition_time_embed_dim": 256, "projection_class_embeddings_input_dim": 2816,
                 "sample_size": 128},
        "vae": {**_VAE, "sample_size": 1024, "scaling_factor": 0.13025},
        "text_encoders": [("CLIPTextModel", _CLIP_L),
                          ("CLIPTextModelWithProjection", {**_OPEN_CLIP, "hidden_size": 1280,
                                                           "intermediate_size": 5120, "num_hidden_layers": 32,
                                                           "num_attention_heads": 20, "projection_dim": 1280})],
        "pad_tokens": ["<|endoftext|>", "!"],
        "scheduler": _SCHEDULER,
    },
}
PRESETS["sd2-v"] = PRESETS["sd2"]
