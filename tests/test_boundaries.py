"""The layers and boundaries of ``[tool.importlinter]`` in pyproject.toml, checked.

import-linter checks the contracts on the import graph of the installed ``atp``
(``TYPE_CHECKING`` imports included). Each contract is also shown to fail: the same
graph with one import added that the contract forbids must break it, so a contract
that checks nothing (a misspelt module, a layer that matches no package) cannot pass.
Beside it, what the graph cannot see: names taken from another package's private
modules or private names, which parts of eventsourcing the domain may use, and each
module's ``__all__``.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path
from typing import Any

import grimp
import pytest
from importlinter.api import read_configuration
from importlinter.contracts.acyclic_siblings import AcyclicSiblingsContract
from importlinter.contracts.forbidden import ForbiddenContract
from importlinter.contracts.layers import LayersContract
from importlinter.contracts.private_modules import PrivateModulesContract
from importlinter.domain.contract import Contract

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["atp", "actors", "projections"]  # actors/ and projections/ install as atp.*
SOURCES = sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py"))

_TYPES: dict[str, type[Contract]] = {
    "layers": LayersContract,
    "forbidden": ForbiddenContract,
    "acyclic_siblings": AcyclicSiblingsContract,
    "private_modules": PrivateModulesContract,
}
# Per contract, one import it forbids (importer, imported).
_BREAKERS = {
    "layers": ("atp.domain._message", "atp.actors._context"),
    "pure-domain": ("atp.domain._message", "trio"),
    "edge-without-store": ("atp.api._messages", "atp.ledger"),
    "acyclic": ("atp.actors._context", "atp.actors.mailbox"),
    "private": ("atp.api._messages", "atp.actors.mailbox._actor"),
}


def configuration() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The session options and, by id, every contract's options."""
    config = read_configuration(str(ROOT / "pyproject.toml"))
    contracts = {options["id"]: options for options in config["contracts_options"]}
    return {**config["session_options"], "root_packages": ["atp"]}, contracts


def contract_options() -> dict[str, dict[str, Any]]:
    return configuration()[1]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(
        "atp", include_external_packages=True, exclude_type_checking_imports=False
    )


def check(options: dict[str, Any], graph: grimp.ImportGraph) -> bool:
    contract = _TYPES[options["type"]](options["name"], configuration()[0], options)
    return contract.check(copy.deepcopy(graph), verbose=False).kept


def test_every_contract_has_a_breaker() -> None:
    assert set(contract_options()) == set(_BREAKERS)


@pytest.mark.parametrize("contract_id", sorted(_BREAKERS))
def test_the_code_keeps_the_contract(contract_id: str, graph: grimp.ImportGraph) -> None:
    assert check(contract_options()[contract_id], graph), (
        f"contract {contract_id!r} is broken: run `lint-imports` for the imports that break it"
    )


@pytest.mark.parametrize("contract_id", sorted(_BREAKERS))
def test_one_forbidden_import_breaks_the_contract(
    contract_id: str, graph: grimp.ImportGraph
) -> None:
    importer, imported = _BREAKERS[contract_id]
    assert graph.find_modules_directly_imported_by(importer) is not None  # both exist
    broken = copy.deepcopy(graph)
    broken.add_import(importer=importer, imported=imported)
    assert not check(contract_options()[contract_id], broken)


def package_of(path: Path) -> str:
    parts = path.relative_to(ROOT).parts[:-1]
    return ".".join(parts if parts[0] == "atp" else ("atp", *parts))


def private_names_taken() -> list[str]:
    """``from other.pkg import _name``: a private name (or module) of another package."""
    offenders = []
    for path in SOURCES:
        own = package_of(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.module and node.level == 0):
                continue
            if not node.module.startswith("atp"):
                continue
            source = ".".join(p for p in node.module.split(".") if not p.startswith("_"))
            for alias in node.names:
                private = alias.name.startswith("_") and not alias.name.startswith("__")
                if private and source != own:
                    offenders.append(f"{path.relative_to(ROOT)}: {node.module}.{alias.name}")
    return offenders


def test_no_private_name_is_taken_from_another_package() -> None:
    assert private_names_taken() == []


def test_the_domain_uses_only_the_domain_part_of_eventsourcing() -> None:
    allowed = {"eventsourcing.domain", "eventsourcing.utils"}
    used = set()
    for path in sorted((ROOT / "atp" / "domain").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("eventsourcing"):
                used.add(node.module)
            elif isinstance(node, ast.Import):
                used.update(a.name for a in node.names if a.name.startswith("eventsourcing"))
    assert used and used <= allowed


_TYPE_VARIABLES = {"TypeVar", "ParamSpec", "TypeVarTuple"}


def _is_route(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """A handler registered with ``@blueprint.<method>(...)``: the blueprint is exported."""
    return any(
        isinstance(d, ast.Call)
        and isinstance(d.func, ast.Attribute)
        and isinstance(d.func.value, ast.Name)
        and d.func.value.id == "blueprint"
        for d in function.decorator_list
    )


def _is_private_by_kind(value: ast.expr | None) -> bool:
    """A type variable or a logger: named without an underscore by custom, never exported."""
    if not isinstance(value, ast.Call):
        return False
    func = value.func
    if isinstance(func, ast.Name):
        return func.id in _TYPE_VARIABLES
    return isinstance(func, ast.Attribute) and func.attr == "getLogger"


def all_mismatches(path: Path) -> list[str]:
    """How ``path``'s ``__all__`` differs from the public names it defines (and, in an
    ``__init__``, re-exports from its own package's modules)."""
    tree = ast.parse(path.read_text())
    declared: list[str] | None = None
    defined: set[str] = set()
    reexported: set[str] = set()
    imported: set[str] = set()
    lazy = False
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            declared = list(ast.literal_eval(node.value))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            lazy = lazy or node.name == "__getattr__"
            if not _is_route(node):
                defined.add(node.name)
        elif isinstance(node, ast.ClassDef):
            defined.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not _is_private_by_kind(node.value):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(t.id for t in targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("atp"):
            names = {a.asname or a.name for a in node.names}
            imported |= names
            if path.name == "__init__.py" and node.module.startswith(package_of(path) + "."):
                reexported |= names
    public = {n for n in defined if not n.startswith("_")} | (reexported - _private(reexported))
    if declared is None:
        return [f"no __all__ for {sorted(public)}"] if public else []
    if lazy:  # names it imports on first use; test_architecture checks they exist
        return []
    problems = []
    if missing := public - set(declared):
        problems.append(f"public but not in __all__: {sorted(missing)}")
    if unknown := {n for n in declared if n not in defined | imported}:
        problems.append(f"in __all__ but neither defined nor imported: {sorted(unknown)}")
    return problems


def _private(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith("_")}


def test_every_module_exports_exactly_its_public_names() -> None:
    """Public means exported: a name another module may use is in ``__all__``, and one
    that is not for others starts with an underscore."""
    found = {
        str(path.relative_to(ROOT)): problems
        for path in SOURCES
        if path.name != "__main__.py" and (problems := all_mismatches(path))
    }
    assert found == {}
