"""The layering of docs/architecture.md, read from the import statements of every module.

Each module of `labelpilot` belongs to a layer (its first package under `labelpilot`) and
may import only the layers its rule names: the two planes meet in `api`, never in each
other. Lazy imports inside functions and TYPE_CHECKING imports count as well.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from labelpilot.api.steps import Step

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "labelpilot"
# What each layer may import besides itself.
RULES: dict[str, frozenset[str]] = {
    "api": frozenset(),
    "controller": frozenset({"api"}),
    "engine": frozenset({"api"}),
    "ml": frozenset({"api", "engine"}),
    "workforce": frozenset({"api", "engine", "ml"}),
    "datasets": frozenset({"api", "engine"}),
    "worker": frozenset({"api", "engine", "ml", "workforce", "datasets"}),
    # `labelpilot` itself, its command line and labelpilot.extras: the command line names
    # its command modules as strings and imports them when it builds its parser.
    "root": frozenset(),
}
ROOT_MODULES = frozenset({"labelpilot", "labelpilot.cli", "labelpilot.extras"})
WORKER_LIBRARIES = ("numpy", "scipy", "torch", "fsspec", "PIL", "sklearn", "matplotlib")


@dataclass(frozen=True)
class Edge:
    module: str
    line: int
    imported: str


def module_names(package: Path) -> dict[str, Path]:
    """Every module and package under `package`, by dotted name."""
    names = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def import_edges(package: Path) -> list[Edge]:
    """Every import of a `labelpilot` module: `from a import b` names the module a.b when
    there is one, else a."""
    modules = module_names(package)
    edges = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = name.split(".")[: len(name.split(".")) - node.level + is_package]
                    base = ".".join([*parent, *([base] if base else [])])
                targets = list(
                    dict.fromkeys(
                        f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                        for a in node.names
                    )
                )
            else:
                continue
            edges += [
                Edge(name, node.lineno, target)
                for target in targets
                if target.split(".")[0] == "labelpilot"
            ]
    return edges


def layer(module: str) -> str:
    if module in ROOT_MODULES:
        return "root"
    return module.split(".")[1]


def violations(edges: list[Edge]) -> list[str]:
    steps = {f"labelpilot.worker.{step}" for step in Step}
    found = []
    for edge in edges:
        own, other = layer(edge.module), layer(edge.imported)
        where = f"{edge.module}:{edge.line} imports {edge.imported}"
        if own not in RULES:
            found.append(f"{where}: {edge.module} belongs to no layer of the rules")
        elif other != own and other not in RULES[own]:
            allowed = ", ".join(sorted(RULES[own] | {own}))
            found.append(f"{where}: {own} may import only {allowed}")
        elif edge.module in steps and edge.imported in steps - {edge.module}:
            found.append(f"{where}: a step module imports another step module")
    return found


def test_every_module_keeps_to_its_layer():
    assert violations(import_edges(PACKAGE)) == []


def test_every_module_belongs_to_a_layer():
    unknown = [name for name in module_names(PACKAGE) if layer(name) not in RULES]
    assert unknown == [], "add the new package to RULES and to docs/architecture.md"


def test_the_rules_catch_what_they_forbid(tmp_path):
    files = {
        "__init__.py": "",
        "api/__init__.py": "",
        "api/spec.py": "from labelpilot.engine import storage\n",
        "engine/__init__.py": "",
        "engine/storage.py": "def read():\n    from ..controller import planner\n",
        "controller/__init__.py": "from . import planner\n",
        "controller/planner.py": "from labelpilot.api import spec\n",
        "worker/__init__.py": "",
        "worker/prepare.py": "from labelpilot.worker import common, human\n",
        "worker/human.py": "import labelpilot.engine.storage\nimport labelpilot.controller\n",
        "worker/common.py": "",
        "extras.py": "",
        "helpers.py": "from labelpilot import extras\n",
    }
    for relative, text in files.items():
        (tmp_path / "labelpilot" / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "labelpilot" / relative).write_text(text)
    assert violations(import_edges(tmp_path / "labelpilot")) == [
        "labelpilot.api.spec:1 imports labelpilot.engine.storage: api may import only api",
        "labelpilot.engine.storage:2 imports labelpilot.controller.planner: engine may import "
        "only api, engine",
        "labelpilot.helpers:1 imports labelpilot.extras: labelpilot.helpers belongs to no "
        "layer of the rules",
        "labelpilot.worker.human:2 imports labelpilot.controller: worker may import only api, "
        "datasets, engine, ml, worker, workforce",
        "labelpilot.worker.prepare:1 imports labelpilot.worker.human: a step module imports "
        "another step module",
    ]


def test_the_controller_needs_no_worker_library_and_registers_its_handlers():
    """The operator image installs the base dependencies only."""
    code = textwrap.dedent(f"""
        import sys
        import kopf
        import labelpilot.controller
        import labelpilot.cli
        labelpilot.cli.build_parser()
        print(sorted(m for m in {WORKER_LIBRARIES!r} if m in sys.modules))
        registry = kopf.get_default_registry()
        print(sorted({{h.id for h in registry._watching.get_all_handlers()}}
                     | {{h.id for h in registry._changing.get_all_handlers()}}))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    imported, handlers = result.stdout.splitlines()
    assert imported == "[]", f"importing the controller imports {imported}"
    assert handlers == str(["labeling_job_changed", "labeling_job_seen", "step_job_event"])
