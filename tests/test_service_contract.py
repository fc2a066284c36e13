"""The service contract holds for every registered service: each hook the base declares is
implemented in the service's own file, the service declares only known capabilities, and
the shared code dispatches to the right service whatever the order the files loaded in."""

import ast
import inspect
import pathlib

from odoo.tests import TransactionCase, tagged

from odoo.addons.account_bookkeeping_link.models.bookkeeping_service_contract import (
    CAPABILITIES,
    SERVICE_HOOKS,
    required_hooks,
)

ADDON = pathlib.Path(__file__).resolve().parent.parent
# Shared code: it calls the hooks and never names a service.
SHARED = ("models", "wizards", "controllers")


def _services(env):
    return [key for key, _label in env["bookkeeping.backend"]._fields["service"].selection]


def _implementations(env, hook):
    """The modules that define ``_service_<hook>`` on the link model, in MRO order."""
    cls = type(env["bookkeeping.backend"])
    return [klass.__module__ for klass in cls.__mro__ if f"_service_{hook}" in vars(klass)]


@tagged("post_install", "-at_install")
class TestServiceContract(TransactionCase):
    def test_every_service_implements_every_hook_in_its_own_file(self):
        """Every hook its capabilities need (an import source implements no push hook)."""
        services = _services(self.env)
        self.assertGreaterEqual(len(services), 2)
        missing = []
        for service in services:
            own = f"odoo.addons.account_bookkeeping_link.models.bookkeeping_backend_{service}"
            backend = self.env["bookkeeping.backend"].new({"name": service, "service": service})
            for hook in required_hooks(backend._service_capabilities()):
                if own not in _implementations(self.env, hook):
                    missing.append(f"{service}: _service_{hook}")
        self.assertEqual(missing, [], "hooks a service does not implement in its own file")

    def test_every_hook_is_declared_with_a_docstring(self):
        contract = type(self.env["bookkeeping.backend"])
        for hook in SERVICE_HOOKS:
            method = getattr(contract, f"_service_{hook}")
            self.assertIn(
                "bookkeeping_service_contract", _implementations(self.env, hook)[-1], hook
            )
            base = next(
                klass
                for klass in contract.__mro__
                if klass.__module__.endswith("bookkeeping_service_contract")
                and f"_service_{hook}" in vars(klass)
            )
            self.assertTrue(inspect.getdoc(vars(base)[f"_service_{hook}"]), hook)
            self.assertTrue(callable(method))

    def test_each_service_answers_as_itself(self):
        """Every service's capabilities are known ones, and each backend gets its own
        answer: the super() chains guard on the service, whatever the load order."""
        answers = {}
        for service in _services(self.env):
            backend = self.env["bookkeeping.backend"].new({"name": service, "service": service})
            capabilities = backend._service_capabilities()
            self.assertTrue(capabilities, f"{service} declares no capability")
            self.assertLessEqual(set(capabilities), set(CAPABILITIES), service)
            if "partners" in capabilities:
                answers[service] = tuple(backend._service_partner_match_keys())
        self.assertEqual(len(set(answers.values())), len(answers), answers)

    def test_shared_code_never_names_a_service(self):
        services = _services(self.env)
        offenders = []
        for folder in SHARED:
            for path in sorted((ADDON / folder).glob("*.py")):
                if any(path.stem.endswith(f"_{service}") for service in services):
                    continue
                for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                    if isinstance(node, ast.Constant) and node.value in services:
                        offenders.append(f"{path.relative_to(ADDON)}:{node.lineno} {node.value!r}")
        self.assertEqual(offenders, [])
