"""The README's walk of an NHS number (Architecture) stays true to the code it names."""

import ast
import importlib
import inspect
import re
import textwrap
from pathlib import Path

from django.conf import settings

from attendances.services import check

README = Path(__file__).resolve().parent.parent / "README.md"
_STEP = re.compile(r"^(\d+)\. ")
_DOTTED = re.compile(r"`([a-z_]\w*(?:\.\w+)+)`")


def _walks() -> dict[str, list[str]]:
    """Each walk's steps (numbered items, continuation lines joined), by the line introducing it."""
    text = README.read_text()
    assert "### The walk of an NHS number" in text, "README.md's Architecture has no walk of an NHS number"
    section = text.split("### The walk of an NHS number", 1)[1].split("\n## ", 1)[0]
    walks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in section.splitlines():
        if line.startswith("The ") and line.rstrip().endswith(":"):
            current = walks.setdefault(line.strip(), [])
        elif current is not None and _STEP.match(line):
            assert int(_STEP.match(line)[1]) == len(current) + 1, f"steps out of order at: {line}"
            current.append(line)
        elif current is not None and current and line.startswith("   "):
            current[-1] += " " + line.strip()
    return walks


def _resolve(dotted: str) -> object:
    """The module attribute a dotted name names: the longest importable prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            assert hasattr(found, name), f"README walk names {dotted}, but {name} is not there"
            found = getattr(found, name)
        return found
    raise AssertionError(f"README walk names {dotted}, which no module provides")


def test_the_readme_walks_the_web_check_and_the_fhir_search():
    walks = _walks()
    assert set(walks) == {
        "The web check (`POST /check/`):",
        "The FHIR search (`GET /fhir/R4/CareTeam?patient:identifier=…`):",
    }
    assert all(len(steps) >= 5 for steps in walks.values())


def test_every_function_the_walk_names_exists_and_each_step_is_in_one_app():
    apps = {app.split(".")[0] for app in settings.INSTALLED_APPS} | {"core"}
    for steps in _walks().values():
        for step in steps:
            names = _DOTTED.findall(step)
            assert names, f"a step names no function: {step}"
            rooms = {name.split(".")[0] for name in names}
            assert len(rooms) == 1, f"a step in more than one app ({sorted(rooms)}): {step}"
            assert rooms <= apps, f"a step outside the project's apps: {step}"
            room = step.split(":", 1)[0].split(",", 1)[0].split(". ", 1)[1]
            assert room == rooms.pop(), f"a step says it is in {room} but names another app: {step}"
            for name in names:
                _resolve(name)


def test_the_walk_lists_child_checks_steps_in_the_order_it_takes_them():
    """child_check reads as the list of its steps: the walk names each, in the same order."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(check.child_check)))
    calls = sorted(
        (node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)),
        key=lambda node: (node.lineno, node.col_offset),
    )
    # The steps are this module's own private functions; anything else it calls is not a step.
    called = [
        node.func.id
        for node in calls
        if node.func.id.startswith("_") and inspect.isfunction(getattr(check, node.func.id, None))
    ]
    assert len(called) >= 5, called
    web = next(steps for title, steps in _walks().items() if title.startswith("The web check"))
    prefix = "attendances.services.check."
    named = [n.removeprefix(prefix) for step in web for n in _DOTTED.findall(step) if n.startswith(prefix)]
    assert [n for n in dict.fromkeys(named) if n in called] == called
