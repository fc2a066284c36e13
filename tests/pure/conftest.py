"""Pure tests of clients/ and sandbox/: no Odoo needed.

The repository root is also the Odoo addon, whose ``__init__`` imports odoo; so this folder
has no ``__init__.py`` and the root is put on ``sys.path`` to import ``clients`` and
``sandbox`` as top-level packages.
"""

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def pytest_collect_directory(path, parent):
    """Collect the addon's folders as plain directories, never as packages: importing the
    addon's ``__init__`` (or ``tests/__init__``) would need odoo."""
    import pytest  # noqa: PLC0415

    if any((p / "__manifest__.py").exists() for p in (path, *path.parents)):
        return pytest.Dir.from_parent(parent, path=path)
    return None
