"""Pure tests of clients/ and sandbox/: no Odoo needed.

The repository root is also the Odoo addon, whose ``__init__`` imports odoo; so this folder
has no ``__init__.py``, the addon folders are collected as plain directories, and the root is
put on ``sys.path`` to import ``clients`` and ``sandbox`` as top-level packages.
"""

import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_collect_directory(path, parent):
    """Never collect an addon folder as a package: importing the addon's ``__init__`` (or
    ``tests/__init__``) would need odoo."""
    if any((p / "__manifest__.py").exists() for p in (path, *path.parents)):
        return pytest.Dir.from_parent(parent, path=path)
    return None


@pytest.fixture(scope="module")
def server():
    """The three simulators on a loopback port, for one test module."""
    from sandbox.core.server import start_in_thread  # noqa: PLC0415

    srv = start_in_thread()
    yield srv
    srv.stop()
