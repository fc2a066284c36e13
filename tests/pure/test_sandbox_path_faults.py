"""The per-endpoint fault of the Exact simulator (``path_status``): one endpoint answers 404
(an administration without the ``bulk/`` endpoint) or 5xx while every other one works."""

import requests

REDIRECT = "http://localhost:8069/callback"
CLIENT = {"client_id": "sandbox-client", "client_secret": "sandbox-secret"}


def _session(server):
    requests.post(f"{server.url}/_sandbox/exact/clients", json={"redirect_uris": [REDIRECT]})
    code = requests.post(
        f"{server.url}/_sandbox/exact/consent",
        json={"client_id": "sandbox-client", "redirect_uri": REDIRECT, "state": "s"},
        timeout=10,
    ).json()["code"]
    token = requests.post(
        f"{server.url}/exact/api/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, **CLIENT},
        timeout=10,
    ).json()
    session = requests.Session()
    session.headers.update(
        {"Authorization": f"Bearer {token['access_token']}", "Accept": "application/json"}
    )
    return session


def _faults(server, **values):
    response = requests.post(f"{server.url}/_sandbox/faults/exact", json=values, timeout=10)
    response.raise_for_status()
    return response.json()


def test_one_endpoint_answers_404_the_crud_one_still_works(server):
    requests.post(f"{server.url}/_sandbox/reset", json={"service": "exact"}, timeout=10)
    session = _session(server)
    api = f"{server.url}/exact/api/v1/1001"
    params = {"$select": "ID,IsFullyPaid", "$filter": "IsFullyPaid eq false"}
    assert session.get(f"{api}/bulk/Cashflow/Receivables", params=params).status_code == 200
    state = _faults(server, path_status={"bulk/Cashflow/Receivables": 404})
    assert state["path_status"] == {"bulk/cashflow/receivables": 404}
    missing = session.get(f"{api}/bulk/Cashflow/Receivables", params=params)
    assert missing.status_code == 404
    assert "Resource not found" in missing.json()["error"]["message"]["value"]
    # Case-insensitive, like Exact's routes; the CRUD endpoint is not affected.
    assert session.get(f"{api}/BULK/cashflow/receivables", params=params).status_code == 404
    assert session.get(f"{api}/cashflow/Receivables", params=params).status_code == 200
    _faults(server, path_status={"cashflow/Receivables": 503})
    assert session.get(f"{api}/cashflow/Receivables", params=params).status_code == 503
    assert session.get(f"{api}/bulk/Cashflow/Receivables", params=params).status_code == 200
    # One method only: the writes of an endpoint fail, its reads work.
    _faults(server, path_status={"POST salesentry/SalesEntries": 503})
    entries = session.get(f"{api}/salesentry/SalesEntries", params={"$select": "EntryID"})
    assert entries.status_code == 200
    assert session.post(f"{api}/salesentry/SalesEntries", json={}).status_code == 503
    _faults(server, path_status={})
    assert session.get(f"{api}/cashflow/Receivables", params=params).status_code == 200
