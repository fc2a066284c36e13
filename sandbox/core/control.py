"""The test-only control API under /_sandbox (JSON in, JSON out). See doc/contracts.md.

Generic routes are handled here; ``/_sandbox/<service>/<action>[/<rest>]`` is passed to the
service's ``handle_control(action, path_rest, body) -> (status, dict)``.
"""

import json

from werkzeug.wrappers import Request

from .http import json_response


class Control:
    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response, path):
        request = Request(environ)
        body = _json_body(request)
        if body is None:
            resp = json_response({"error": "body must be a JSON object"}, 400)
        else:
            resp = self.route(request.method, path.strip("/").split("/"), body)
        return resp(environ, start_response)

    def route(self, method, parts, body):
        head, args = parts[0], parts[1:]
        if head == "reset" and method == "POST":
            return self.reset(body.get("service"))
        if head == "clock":
            if method == "POST" and "advance" in body:
                self.app.clock.advance(float(body["advance"]))
            return json_response({"now": self.app.clock.now(), "offset": self.app.clock.offset})
        if head in ("state", "faults", "stats") and args and args[0] in self.app.faults:
            return getattr(self, head)(method, args[0], args[1:], body)
        if head in self.app.faults and args:
            return self.service_action(head, args, body)
        return json_response({"error": "unknown control route"}, 404)

    def reset(self, name):
        names = [name] if name else list(self.app.faults)
        for each in names:
            if each not in self.app.faults:
                return json_response({"error": f"unknown service {each}"}, 400)
        if not name:
            self.app.store.reset(None)
        for each in names:
            svc = self.app.service(each)
            if svc is not None and hasattr(svc, "reset"):
                svc.reset()
            elif name:
                self.app.store.reset(each)
            self.app.faults[each].clear()
            self.app.stats[each].clear()
        return json_response({"reset": names})

    def state(self, method, name, rest, body):
        svc = self.app.service(name)
        if svc is not None and hasattr(svc, "dump"):
            return json_response(svc.dump())
        store = self.app.store
        return json_response({kind: store.all(name, kind) for kind in store.kinds(name)})

    def faults(self, method, name, rest, body):
        faults = self.app.faults[name]
        if method == "POST":
            try:
                faults.set(**body)
            except (KeyError, ValueError, TypeError) as exc:
                return json_response({"error": f"bad fault setting: {exc}"}, 400)
        return json_response(faults.to_dict())

    def stats(self, method, name, rest, body):
        stats = self.app.stats[name]
        if method in ("POST", "DELETE") and (method == "DELETE" or rest == ["reset"]):
            stats.clear()
        return json_response(stats.to_dict())

    def service_action(self, name, args, body):
        svc = self.app.service(name)
        if svc is None or not hasattr(svc, "handle_control"):
            return json_response({"error": f"service {name} not available"}, 404)
        status, data = svc.handle_control(args[0], "/".join(args[1:]), body)
        return json_response(data, status)


def _json_body(request):
    raw = request.get_data(cache=True)
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None
