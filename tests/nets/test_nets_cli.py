"""`pixeldrift nets`: the preset table, a preset's JSON, and named errors with a non-zero exit."""

from __future__ import annotations

from click.testing import CliRunner

from pixeldrift.cli.main import cli
from pixeldrift.nets import UNET_PRESETS, VAE_PRESETS, UNetConfig, VAEConfig


def test_table_lists_every_preset_of_a_family():
    result = CliRunner().invoke(cli, ["nets", "--arch", "unet"])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines()[1:]]
    assert [row[1] for row in rows] == list(UNET_PRESETS)
    assert float(rows[0][2].rstrip("M")) < 1.0  # tiny is under a million parameters


def test_preset_json_is_the_config():
    result = CliRunner().invoke(cli, ["nets", "--arch", "vae", "--preset", "small"])
    assert result.exit_code == 0, result.output
    assert VAEConfig.from_json(result.output) == VAE_PRESETS["small"]
    assert UNetConfig.from_json(CliRunner().invoke(cli, ["nets", "--arch", "unet", "--preset", "tiny"]).output) \
        == UNET_PRESETS["tiny"]


def test_bad_requests_exit_non_zero_with_the_accepted_values():
    unknown = CliRunner().invoke(cli, ["nets", "--arch", "dit", "--preset", "huge"])
    assert unknown.exit_code == 2 and "accepted: tiny, small, base, large" in unknown.output
    no_arch = CliRunner().invoke(cli, ["nets", "--preset", "small"])
    assert no_arch.exit_code == 2 and "--preset needs one --arch" in no_arch.output
    bad_arch = CliRunner().invoke(cli, ["nets", "--arch", "gan"])
    assert bad_arch.exit_code == 2 and "'gan' is not one of" in bad_arch.output
