"""Link a company to the sandbox the way a manager does it in the UI: create the link, go
through the OAuth consent (the sandbox's non-interactive path), choose the administration,
load the lists, choose the defaults and map taxes and income accounts.

Used by the demo (scripts/demo_data.py) and the benchmarks (bench/).
"""

import os
import sys

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from sandbox import registry  # noqa: E402


def link_recipe(service):
    """The ``LINK`` part of the service's sandbox recipe (``sandbox/<service>/recipe.py``)."""
    conf = registry.recipe(service).LINK
    if not conf:
        raise RuntimeError(f"The sandbox service {service} cannot be linked (its recipe says so).")
    return conf


def control(url, method, path, body=None):
    response = requests.request(method, f"{url}/_sandbox{path}", json=body or {}, timeout=30)
    response.raise_for_status()
    return response.json()


def option(env, backend, kind, code):
    found = (
        env["bookkeeping.remote.option"]
        .with_context(active_test=False)
        .search([("backend_id", "=", backend.id), ("kind", "=", kind), ("code", "=", code)])
    )
    if not found:
        raise RuntimeError(f"The sandbox list {kind} has no {code}.")
    return found


def register_redirect(url, service, redirect_uri):
    """Register ``redirect_uri`` for the sandbox app, as a manager registers the Redirect
    URL of the link form at the remote app registration (the sandbox checks it exactly)."""
    return control(url, "POST", f"/{service}/clients", {"redirect_uri": redirect_uri})


def connect(env, backend, url):
    """The OAuth code flow: consent at the sandbox, then our callback's code exchange."""
    conf = link_recipe(backend.service)
    register_redirect(url, backend.service, backend.redirect_uri)
    consent = control(
        url,
        "POST",
        conf["consent_path"],
        {
            "client_id": "sandbox-client",
            "redirect_uri": backend.redirect_uri,
            "state": backend._oauth_state(),
            **conf["consent_params"],
        },
    )
    backend._finish_oauth(consent["code"])


def link(env, company, service, url, taxes, revenue, administration=None, **vals):
    """Create (or reuse) the company's link to the sandbox and make it ready to send.
    ``taxes``: {rate: account.tax}; ``revenue``: the income account to map;
    ``administration``: the administration's code, when not the recipe's."""
    conf = link_recipe(service)
    label = registry.recipe(service).LABEL
    Backend = env["bookkeeping.backend"].with_company(company)
    backend = Backend.search([("company_id", "=", company.id), ("service", "=", service)], limit=1)
    if not backend:
        values = {
            "name": f"{label} (sandbox)",
            "service": service,
            "company_id": company.id,
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        }
        values.update(conf["fields"](url))
        values.update(vals)
        backend = Backend.create(values)
    if backend.state != "linked":
        connect(env, backend, url)
    # None: the consent itself chose the administration (stored at connect)
    field, code = conf["administration"] or (None, None)
    if field and (administration or not backend[field]):
        code = administration or code
        backend[field] = option(env, backend, "administration", code)
    backend.action_load_options()
    backend.write(
        {
            f: option(env, backend, kind, code).id
            for f, (kind, code) in conf["defaults"].items()
            if not backend[f]
        }
    )
    Mapping = env["bookkeeping.mapping"]
    for rate, tax in taxes.items():
        code = conf["vat_codes"].get(rate)
        if not code:
            continue
        mapping = backend.tax_mapping_ids.filtered(lambda m, t=tax: m.tax_id == t)
        remote = option(env, backend, "vat_code", code)
        if mapping:
            mapping.option_id = remote
        else:
            Mapping.create(
                {
                    "backend_id": backend.id,
                    "mapping_type": "tax",
                    "tax_id": tax.id,
                    "option_id": remote.id,
                }
            )
    if not backend.account_mapping_ids.filtered(lambda m: m.account_id == revenue):
        Mapping.create(
            {
                "backend_id": backend.id,
                "mapping_type": "account",
                "account_id": revenue.id,
                "option_id": option(env, backend, "gl_account", conf["income_account"]).id,
            }
        )
    return backend
