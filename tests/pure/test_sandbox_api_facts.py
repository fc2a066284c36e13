"""The API facts each simulator implements are written in doc/api/<service>.md, and the
code cites them: every id cited in sandbox/<service>/ is listed there, and every listed fact
is cited at least once or says why it is not simulated."""

from __future__ import annotations

import os
import re

import pytest

from sandbox import registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A fact is a list item or heading starting with its id in bold: "- **E14** (confirmed) ..."
FACT = re.compile(r"^\s*(?:[-*]|#+)\s*\*\*([A-Z]{1,2}\d{1,3})\*\*(.*)$")
CITE = re.compile(r"#[^\n]*?\b([A-Z]{1,2}\d{1,3}):")


def _facts(name):
    """{id: text of the fact} from doc/api/<name>.md (a fact runs until the next one)."""
    path = os.path.join(ROOT, "doc", "api", f"{name}.md")
    facts, current = {}, None
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = FACT.match(line)
            if match:
                current = match.group(1)
                assert current not in facts, f"{path}: {current} is listed twice"
                facts[current] = match.group(2)
            elif current and line.strip() and not line.lstrip().startswith("#"):
                facts[current] += " " + line.strip()
            else:
                current = None
    return facts


def _cites(name, prefixes):
    """{id: [file:line, ...]} of the fact ids cited in the comments of sandbox/<name>/."""
    found = {}
    folder = os.path.join(ROOT, "sandbox", name)
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith(".py"):
            continue
        with open(os.path.join(folder, file_name), encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                for fact in CITE.findall(line):
                    if re.match(r"[A-Z]+", fact).group(0) in prefixes:
                        found.setdefault(fact, []).append(f"{file_name}:{number}")
    return found


@pytest.mark.parametrize("name", registry.SERVICES)
def test_facts_are_written_and_cited(name):
    path = os.path.join(ROOT, "doc", "api", f"{name}.md")
    assert os.path.exists(path), f"write the facts the {name} sandbox implements in {path}"
    facts = _facts(name)
    assert facts, f"{path} lists no facts"
    for fact, text in facts.items():
        assert "(confirmed)" in text or "(inferred)" in text, f"{fact}: confirmed or inferred?"
    prefixes = {re.match(r"[A-Z]+", fact).group(0) for fact in facts}
    cites = _cites(name, prefixes)
    unknown = {fact: where for fact, where in cites.items() if fact not in facts}
    assert not unknown, f"cited in sandbox/{name}/ but not in {path}: {unknown}"
    uncited = [
        fact for fact, text in facts.items() if fact not in cites and "Not simulated" not in text
    ]
    assert not uncited, f"{path}: cite these in sandbox/{name}/ or say why not simulated: {uncited}"
