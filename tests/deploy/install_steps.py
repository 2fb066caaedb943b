"""The install steps of the Makefile's ``install`` target and of a Dockerfile, as command token lists.

Enough of Make to read this repository's Makefile: ``NAME ?= / := / = value`` assignments, ``$(NAME)``
references, a target's recipe and those of its prerequisites. Enough of a Dockerfile: ``RUN`` lines
(with ``\\`` continuations) split on ``&&``.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

ASSIGN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*(\?=|:=|=)\s*(.*)$")
REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")


def makefile_variables(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        m = ASSIGN.match(line)
        if m and not line.startswith("\t"):
            name, op, value = m.groups()
            if op == "?=" and name in found:
                continue
            found[name] = value.strip()
    return found


def expand(text: str, variables: dict[str, str], depth: int = 0) -> str:
    if depth > 10:
        raise ValueError(f"recursive Makefile variable in {text!r}")
    out = REF.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
    return out if out == text else expand(out, variables, depth + 1)


def recipe(text: str, target: str) -> list[str]:
    """The expanded recipe lines of ``target`` and (first) of its prerequisites, in Make's order."""
    variables = makefile_variables(text)
    rules: dict[str, tuple[list[str], list[str]]] = {}
    current = None
    for line in text.splitlines():
        if line.startswith("\t") and current is not None:
            rules[current][1].append(expand(line.strip(), variables))
            continue
        current = None
        m = re.match(r"^([^\s:=#][^:=]*):(?!=)\s*(.*)$", line)
        if m:
            name = expand(m.group(1).strip(), variables)
            prereqs = [expand(p, variables) for p in m.group(2).split()]
            rules[name] = (prereqs, [])
            current = name
    if target not in rules:
        raise ValueError(f"no target {target!r} in the Makefile")
    lines: list[str] = []
    prereqs, own = rules[target]
    for p in prereqs:
        if p in rules:
            lines += recipe(text, p) if p != target else []
    return lines + own


def dockerfile_commands(text: str) -> list[list[str]]:
    """Every command of every RUN instruction, tokenised."""
    joined = re.sub(r"\\\n", " ", text)
    commands = []
    for line in joined.splitlines():
        m = re.match(r"^\s*RUN\s+(.*)$", line)
        if m:
            commands += [shlex.split(part) for part in m.group(1).split("&&") if part.strip()]
    return commands


def pip_installs(commands: list[list[str]]) -> list[list[str]]:
    """The ``python -m pip install ...`` commands, in order."""
    return [c for c in commands if c[1:4] == ["-m", "pip", "install"]]


def make_install_pip_lines(makefile: Path) -> list[list[str]]:
    text = makefile.read_text()
    commands = [shlex.split(part) for line in recipe(text, "install") for part in line.split("||")
                if part.strip()]
    return pip_installs(commands)
