"""The package boundaries, checked over the import graph of the source (no import is executed).

* ``hepde`` (the runtime library, the Lambda layer) never imports ``hepde_tools`` (operator tools) or
  ``hepde_bridge`` (the on-prem bridge daemon): the layer is what Lambdas import and nothing else;
* ``hepde.modules`` never imports ``hepde.runtime``: a module gets what it needs through its context;
* nothing outside ``hepde_tools.cli`` renders text tables (``tabulate``, ``hepde_tools.cli.render``);
* no module of the library changes ``os.environ`` (configuration is passed explicitly);
* the Lambda handlers in ``functions/`` import only the library.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
LIBRARY = ROOT / "layers" / "hepde" / "python"
TOOLS = ROOT / "tools"
BRIDGE = ROOT / "bridge"
FUNCTIONS = ROOT / "functions"


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path, module: str) -> set[str]:
    """Every module name ``path`` imports, absolute (relative imports resolved), at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out.update(f"{target}.{alias.name}" for alias in node.names)
    return out


def _sources(base: Path, package: str) -> list[tuple[str, Path]]:
    root = base / package
    return [
        (_module_name(p, base), p)
        for p in sorted(root.rglob("*.py"))
        if "original_2_0_6" not in p.parts  # the original's program, run in its own interpreter
    ]


LIB_MODULES = _sources(LIBRARY, "hepde")
TOOL_MODULES = _sources(TOOLS, "hepde_tools")
BRIDGE_MODULES = _sources(BRIDGE, "hepde_bridge")


def _violations(modules: list[tuple[str, Path]], forbidden: tuple[str, ...]) -> list[str]:
    bad = []
    for name, path in modules:
        for imported in sorted(_imports(path, name)):
            if any(imported == f or imported.startswith(f + ".") for f in forbidden):
                bad.append(f"{path}: {name} imports {imported}")
    return bad


def test_the_three_packages_exist_and_are_parsed():
    assert len(LIB_MODULES) > 50 and len(TOOL_MODULES) > 20 and len(BRIDGE_MODULES) > 5


def test_library_never_imports_the_tools_or_the_bridge():
    assert _violations(LIB_MODULES, ("hepde_tools", "hepde_bridge")) == []


def test_modules_never_import_the_runtime():
    modules = [(n, p) for n, p in LIB_MODULES if n.startswith("hepde.modules")]
    assert modules
    assert _violations(modules, ("hepde.runtime",)) == []


def test_bridge_does_not_import_the_operator_tools():
    assert _violations(BRIDGE_MODULES, ("hepde_tools",)) == []


def test_only_the_cli_renders_tables():
    outside_cli = [
        (n, p) for n, p in LIB_MODULES + TOOL_MODULES + BRIDGE_MODULES if not n.startswith("hepde_tools.cli")
    ]
    assert _violations(outside_cli, ("tabulate", "hepde_tools.cli")) == []


def test_handlers_import_only_the_library():
    handlers = [(f"functions.{p.parent.name}.app", p) for p in sorted(FUNCTIONS.glob("*/app.py"))]
    assert handlers
    assert _violations(handlers, ("hepde_tools", "hepde_bridge")) == []


def _environ_writes(path: Path) -> list[int]:
    """Lines that assign into, delete from or mutate ``os.environ``."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[ast.AST] = []
        if isinstance(node, ast.Assign | ast.AugAssign):
            targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
        elif isinstance(node, ast.Delete):
            targets = list(node.targets)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in {"update", "setdefault", "pop", "clear", "__setitem__"}
        ):
            targets = [node.func.value]
        for t in targets:
            if isinstance(t, ast.Subscript):
                t = t.value
            if ast.unparse(t) in {"os.environ", "environ"}:
                lines.append(node.lineno)
    return lines


#: known violations being removed by branch condor (issue 11); empty this set when they pass
_KNOWN_ENVIRON_WRITERS: set[str] = set()


@pytest.mark.parametrize(
    "name,path",
    [
        pytest.param(n, p, marks=pytest.mark.xfail(strict=True, reason="branch condor removes it"))
        if n in _KNOWN_ENVIRON_WRITERS
        else (n, p)
        for n, p in LIB_MODULES
        if n.startswith("hepde.modules")
    ],
    ids=lambda v: str(v),
)
def test_no_module_changes_the_process_environment(name, path):
    assert _environ_writes(path) == [], f"{name} changes os.environ; pass configuration explicitly"


def test_the_environ_check_can_fail(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import os\nos.environ['X'] = '1'\nos.environ.update(Y='2')\n")
    assert _environ_writes(probe) == [2, 3]


def test_the_import_check_can_fail(tmp_path):
    pkg = tmp_path / "hepde" / "modules"
    pkg.mkdir(parents=True)
    (pkg / "bad.py").write_text("from hepde.runtime.stages import gen_id\nfrom ..x import y\n")
    found = _violations([("hepde.modules.bad", pkg / "bad.py")], ("hepde.runtime",))
    assert len(found) == 2 and "hepde.runtime.stages.gen_id" in found[1]
