"""The API facts each simulator implements are written in doc/api/<service>.md, and the
code cites them: every id cited in sandbox/<service>/ is listed there, and every listed fact
is cited at least once or says why it is not simulated."""

from __future__ import annotations

import os
import re
import tokenize

import pytest

from sandbox import registry

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# A fact is a list item or heading starting with its id in bold: "- **E14** (confirmed) ..."
# or "- **V1 [C]** ..." ([C] confirmed, [I] inferred).
FACT = re.compile(r"^\s*(?:[-*]|#+)\s*\*\*([A-Z]{1,2}\d{1,3})((?:\s*\[[^\]]*\])?)\*\*(.*)$")
CONFIRMED_OR_INFERRED = re.compile(r"\((?:confirmed|inferred)\)|\[(?:C|I)\b")
# A cite is the id in a comment or docstring ("# E14: ...", "V6", "V13-V16" for a range).
CITE = re.compile(r"\b([A-Z]{1,2})(\d{1,3})(?:\s*-\s*\1?(\d{1,3}))?\b")


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
                facts[current] = match.group(2) + match.group(3)
            elif current and line.strip() and not line.lstrip().startswith("#"):
                facts[current] += " " + line.strip()
            else:
                current = None
    return facts


def _prose(path):
    """(line, text) of the comments and docstrings of a Python file (noqa codes left out)."""
    with open(path, encoding="utf-8") as handle:
        for tok in tokenize.generate_tokens(handle.readline):
            if tok.type == tokenize.COMMENT:
                yield tok.start[0], re.sub(r"noqa:?[\w, ]*", "", tok.string)
            elif tok.type == tokenize.STRING and tok.string.lstrip("rbuf").startswith('"""'):
                yield tok.start[0], tok.string


def _cites(name, prefixes):
    """{id: [file:line, ...]} of the fact ids cited in the comments and docstrings of
    sandbox/<name>/."""
    found = {}
    folder = os.path.join(ROOT, "sandbox", name)
    for file_name in sorted(os.listdir(folder)):
        if not file_name.endswith(".py"):
            continue
        for number, text in _prose(os.path.join(folder, file_name)):
            for prefix, first, last in CITE.findall(text):
                if prefix not in prefixes:
                    continue
                for n in range(int(first), int(last or first) + 1):
                    found.setdefault(f"{prefix}{n}", []).append(f"{file_name}:{number}")
    return found


@pytest.mark.parametrize("name", registry.SERVICES)
def test_facts_are_written_and_cited(name):
    path = os.path.join(ROOT, "doc", "api", f"{name}.md")
    assert os.path.exists(path), f"write the facts the {name} sandbox implements in {path}"
    facts = _facts(name)
    assert facts, f"{path} lists no facts"
    for fact, text in facts.items():
        assert CONFIRMED_OR_INFERRED.search(text), f"{fact}: confirmed or inferred?"
    prefixes = {re.match(r"[A-Z]+", fact).group(0) for fact in facts}
    cites = _cites(name, prefixes)
    unknown = {fact: where for fact, where in cites.items() if fact not in facts}
    assert not unknown, f"cited in sandbox/{name}/ but not in {path}: {unknown}"
    uncited = [
        fact
        for fact, text in facts.items()
        if fact not in cites and "not simulated" not in text.lower()
    ]
    assert not uncited, f"{path}: cite these in sandbox/{name}/ or say why not simulated: {uncited}"
