import subprocess
import sys
import textwrap

import pytest

from labelpilot import cli


def _commands(parser) -> set[str]:
    (action,) = [a for a in parser._actions if a.dest == "command"]
    return set(action.choices)


def test_each_command_is_registered_by_the_module_named_for_it():
    assert _commands(cli.build_parser()) == set(cli.COMMAND_MODULES)
    for name in cli.COMMAND_MODULES:
        assert _commands(cli.build_parser([name, "--help"])) == {name}


def test_a_step_command_does_not_load_the_operator():
    code = textwrap.dedent("""
        import sys
        from labelpilot import cli
        cli.build_parser(["worker", "prepare", "--config", "c.json"])
        print(sorted(m for m in ("kopf", "labelpilot.controller") if m in sys.modules))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_unknown_command_is_refused_with_the_list_of_commands(capsys):
    with pytest.raises(SystemExit) as refused:
        cli.main(["no-such-command"])
    assert refused.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in error and "'worker'" in error
