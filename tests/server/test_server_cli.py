"""`pixeldrift serve` refuses unsafe or impossible settings before it loads anything."""

from click.testing import CliRunner

from pixeldrift.cli.main import cli


def test_serve_on_a_network_address_needs_a_token(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "--gallery", str(tmp_path)],
                                env={"PIXELDRIFT_TOKEN": ""})
    assert result.exit_code != 0 and "give an API token" in result.output


def test_serve_refuses_a_short_token(tmp_path):
    result = CliRunner().invoke(cli, ["serve", "--token", "abc", "--gallery", str(tmp_path)])
    assert result.exit_code != 0 and "at least 8 characters" in result.output


def test_serve_names_a_folder_that_is_no_model(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(cli, ["serve", "--model", str(empty), "--gallery", str(tmp_path / "g")])
    assert result.exit_code != 0 and "not a model folder" in result.output
