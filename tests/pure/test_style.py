"""One formatter and one linter for the whole repository, checked by the test command:
a change that is not `ruff format`-ed or that `ruff check` refuses does not land."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _ruff(*args):
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, str(ROOT)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )


def test_the_code_is_formatted():
    result = _ruff("format", "--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_code_passes_the_linter():
    result = _ruff("check")
    assert result.returncode == 0, result.stdout + result.stderr
