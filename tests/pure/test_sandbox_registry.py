"""The service registry (sandbox/registry.py): every registered service has its simulator
package and its recipe, and shared code reads them instead of naming a service."""

from __future__ import annotations

import importlib
import os
import re

import pytest

from sandbox import registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LINK_KEYS = {
    "fields",
    "consent_path",
    "consent_params",
    "administration",
    "defaults",
    "vat_codes",
    "income_account",
}
BENCH_KEYS = {"rate_limit_off", "rate_limit_on", "pay", "finalise", "rate_note"}
# Shared files: they must work for any registered service without naming one.
SHARED = [
    "clients/http.py",
    "clients/ratelimit.py",
    "clients/oauth.py",
    *(f"sandbox/core/{name}" for name in os.listdir(os.path.join(ROOT, "sandbox", "core"))),
    *(f"scripts/{name}" for name in os.listdir(os.path.join(ROOT, "scripts"))),
    *(f"bench/{name}" for name in os.listdir(os.path.join(ROOT, "bench"))),
]


@pytest.mark.parametrize("name", registry.SERVICES)
def test_every_service_has_a_simulator_and_a_recipe(name):
    package = importlib.import_module(f"sandbox.{name}")
    assert callable(package.SERVICE_CLASS)
    recipe = registry.recipe(name)
    assert recipe.LABEL
    assert callable(recipe.remote_documents) and recipe.remote_documents({}) == []
    if recipe.LINK:
        assert LINK_KEYS <= set(recipe.LINK), f"{name}: LINK lacks {LINK_KEYS - set(recipe.LINK)}"
        assert recipe.LINK["consent_path"] == f"/{name}/consent"
        assert callable(recipe.LINK["fields"]) and recipe.LINK["fields"]("http://x")
    if recipe.BENCH:
        assert BENCH_KEYS <= set(recipe.BENCH), f"{name}: BENCH lacks keys"
        assert recipe.BENCH["pay"].startswith(f"/{name}/")
    if recipe.DEMO:
        assert recipe.LINK, f"{name}: a demo company needs a link recipe"
        for action in recipe.DEMO["remote_actions"]:
            assert action["path"].startswith(f"/{name}/")


def test_registry_lists_link_and_bench_services():
    assert set(registry.bench_services()) <= set(registry.link_services()) <= set(registry.SERVICES)
    with pytest.raises(KeyError):
        registry.recipe("no-such-service")


def test_recipe_paths_exist_in_the_sandbox(server):
    """Every control path a recipe names is a route the running sandbox knows."""
    import requests  # noqa: PLC0415

    for name, recipe in registry.recipes().items():
        for hooks in filter(None, [recipe.BENCH]):
            for key in ("rate_limit_off",):
                if hooks[key]:
                    path, body = hooks[key]
                    response = requests.post(f"{server.url}/_sandbox{path}", json=body, timeout=10)
                    assert response.status_code == 200, (name, key, response.text)
        if recipe.LINK:
            response = requests.post(
                f"{server.url}/_sandbox{recipe.LINK['consent_path']}",
                json={"client_id": "nobody", "redirect_uri": "https://x.example/cb"},
                timeout=10,
            )
            # the consent route answers: it refuses an unknown client (not "unknown route")
            assert response.status_code in (400, 401, 403), (name, response.text)


@pytest.mark.parametrize("path", SHARED)
def test_shared_files_never_name_a_service(path):
    full = os.path.join(ROOT, path)
    if not path.endswith(".py") or not os.path.isfile(full):
        pytest.skip("not a Python file")
    text = open(full, encoding="utf-8").read()
    names = {*registry.SERVICES, "visma"}
    found = [n for n in names if re.search(rf"[\"']{re.escape(n)}[\"']", text)]
    assert not found, f"{path} names {found}: read it from the service's recipe instead"
