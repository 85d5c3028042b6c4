"""The experiments modules import one another one way only, counting imports inside functions
(and under ``TYPE_CHECKING``), and the registered model's name is spelled once."""

from __future__ import annotations

import ast
from pathlib import Path

import assist.experiments
from assist.experiments import config, tracking

PACKAGE = Path(assist.experiments.__file__).parent


def _imports(path: Path) -> set[str]:
    """Modules of ``assist.experiments`` that ``path`` imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {m.removeprefix("assist.experiments.") for m in found
            if m.startswith("assist.experiments.")}


def test_no_import_cycle_within_experiments():
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {m: _imports(PACKAGE / f"{m}.py") & modules for m in modules}
    done: set[str] = set()

    def visit(m: str, path: tuple[str, ...]) -> None:
        assert m not in path, f"import cycle: {' -> '.join((*path, m))}"
        if m not in done:
            for n in sorted(graph[m]):
                visit(n, (*path, m))
            done.add(m)

    for m in sorted(modules):
        visit(m, ())
    assert "registry" not in graph["card"]  # the card reads versions, not the registry


def test_model_name_is_the_tracking_default():
    assert tracking.MODEL_NAME == "assist-need-model"
    section = config.TrackingConfig()
    assert section.registered_model == section.experiment == tracking.MODEL_NAME
