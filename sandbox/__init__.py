"""Local simulators of the remote services (not imported by Odoo): one package per service
(``sandbox/<name>/``, listed in ``sandbox/registry.py``) on the shared layers of
``sandbox/core/``.

Run ``python -m sandbox --port 8069 --db var/sandbox.sqlite3``; in tests use
``sandbox.core.server.start_in_thread()``.
"""
