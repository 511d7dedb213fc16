"""Who may import whom (docs/architecture.md, "Packages and who may import whom"), checked on the
source: a new arrow between packages is a design decision, made here and in the map together.

Only imports that run count: those under `if TYPE_CHECKING:` name a type for the checker and load
nothing. Function-level imports count like module-level ones."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "infrec"

# The layers, top to bottom. A package may import the packages listed for it, nothing else of infrec.
FRONT = {"api", "cli", "web", "services"}      # front ends and the composition root
ALLOWED: dict[str, set[str]] = {
    "api": {"services", "web", "registry", "hosting", "jobs", "genai", "logs", "core"},
    "web": {"api", "services", "report", "core"},
    # The CLI reads the user's own files (a payload archive's names) before sending anything.
    "cli": {"api", "services", "config", "jobs", "report", "pricing", "store", "vpc", "examples", "artifacts",
            "core"},
    "services": {"api", "config", "registry", "hosting", "jobs", "genai", "logs", "measure", "executors",
                 "artifacts", "store", "vpc", "core"},
    "config": {"setting_values", "artifacts", "executors"},
    "setting_values": set(),
    # The services that answer the API's operations.
    "registry": {"artifacts", "store", "core"},
    "hosting": {"registry", "jobs", "executors", "artifacts", "store", "core"},
    "jobs": {"registry", "measure", "executors", "artifacts", "store", "core"},
    "genai": {"jobs", "loadgen", "executors", "artifacts", "store", "serving", "core"},
    "logs": {"core"},
    # What the services use.
    "measure": {"loadgen", "executors", "core"},
    "loadgen": {"core"},
    "executors": {"artifacts", "core"},
    "artifacts": {"core"},
    "store": {"core"},
    "vpc": {"core"},
    "report": {"core"},
    "pricing": {"core"},
    "examples": {"core"},
    # The model server runs in the endpoint's own process: it reads only the registry of images.
    "serving": {"core"},
    "core": set(),
}


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports() -> dict[str, dict[str, set[str]]]:
    """package → imported infrec module → the files importing it."""
    found: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in SRC.rglob("*.py"):
        rel = path.relative_to(SRC)
        package = rel.parts[0].removesuffix(".py")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and _type_checking_only(block)
                   for n in ast.walk(block)}
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("infrec."):
                modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names if a.name.startswith("infrec.")]
            else:
                continue
            for module in modules:
                if module.split(".")[1] != package:
                    found[package][module].add(str(rel))
    return found


def test_every_package_is_placed_in_a_layer() -> None:
    packages = {p.name.removesuffix(".py") for p in SRC.iterdir()
                if (p.is_dir() and (p / "__init__.py").exists()) or (p.suffix == ".py" and p.name != "__init__.py")}
    assert packages == set(ALLOWED), "place the new package in ALLOWED and in docs/architecture.md"


def test_no_package_imports_outside_its_layer() -> None:
    wrong = [f"{package} imports {module} ({', '.join(sorted(files))})"
             for package, modules in runtime_imports().items()
             for module, files in modules.items() if module.split(".")[1] not in ALLOWED[package]]
    assert not wrong, "\n".join(wrong)


def test_nothing_below_the_front_ends_imports_them() -> None:
    for package, allowed in ALLOWED.items():
        if package not in FRONT:
            assert not allowed & FRONT, package


def test_core_is_free_of_infrec_and_io() -> None:
    assert "core" not in runtime_imports()
    io_modules = {"socket", "subprocess", "sqlalchemy", "boto3", "botocore", "requests", "urllib.request", "psutil"}
    used = []
    for path in (SRC / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            used += [f"{path.name}: {n}" for n in names if n.split(".")[0] in io_modules or n in io_modules]
    assert not used, used


def test_the_model_server_reads_only_the_image_registry() -> None:
    modules = runtime_imports().get("serving", {})
    assert set(modules) <= {"infrec.core.images"}, sorted(modules)
