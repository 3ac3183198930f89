import subprocess
import sys

from click.testing import CliRunner

from tweettwin.cli import cli


def test_help_renders_for_every_command():
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for name in cli.commands:
        sub = runner.invoke(cli, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)


def test_import_and_cli_stay_torch_free():
    code = "import sys, tweettwin, tweettwin.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
