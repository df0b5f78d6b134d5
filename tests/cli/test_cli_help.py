import pytest
from click.testing import CliRunner

from pixeldrift.cli.main import cli


def test_top_level_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in cli.commands:
        assert name in result.output


@pytest.mark.parametrize("name", sorted(__import__("pixeldrift.cli.main", fromlist=["cli"]).cli.commands))
def test_every_command_has_help_with_examples(name):
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"{name} --help shows no examples"
