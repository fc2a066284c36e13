"""The simulated services, one line each: ``sandbox/<name>/`` is its package.

The app mounts them (``/<name>``), the control API knows them, and scripts/ and bench/ read
their recipes (``sandbox/<name>/recipe.py``) through :func:`recipe`. Adding a service is a
new package plus one line here.
"""

import importlib

SERVICES = (
    "exact",
    "asperion",
    "timewax",
    "visma",
)


def recipe(name):
    """The recipe module of service ``name`` (plain data and functions, no odoo import)."""
    if name not in SERVICES:
        raise KeyError(f"unknown sandbox service {name!r}; known: {', '.join(SERVICES)}")
    return importlib.import_module(f".{name}.recipe", __package__)


def recipes():
    """{name: recipe module} of every registered service whose recipe imports; one still
    being written is left out, as the app leaves out its simulator."""
    found = {}
    for name in SERVICES:
        try:
            found[name] = recipe(name)
        except Exception:  # noqa: BLE001 - a broken service must not hide the others
            continue
    return found


def link_services():
    """The services a bookkeeping link can be made to (their recipe has a ``LINK``)."""
    return [name for name, each in recipes().items() if getattr(each, "LINK", None)]


def bench_services():
    """The services ``python -m bench`` can measure (their recipe has a ``BENCH``)."""
    return [name for name, each in recipes().items() if getattr(each, "BENCH", None)]
