"""The runtime package's shape: rooms by concern without import cycles, no module over 400 lines, a call pipeline
core that loads neither the MCP SDK nor the sign-in code, and a wheel that carries its migrations."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "python" / "src" / "atoms_mcp"
MAX_LINES = 400


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """The atoms_mcp modules ``name`` imports anywhere in its body (module level or inside functions)."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        else:
            continue
        found |= {target for target in targets if target in MODULES and target != name}
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def test_the_runtime_import_graph_has_no_cycle() -> None:
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(GRAPH[node]):
            if state.get(target) == "open":
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def test_no_runtime_module_is_over_400_lines() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}


def test_the_core_imports_only_the_core_and_the_settings() -> None:
    outside = {
        name: sorted(t for t in targets if not t.startswith("atoms_mcp.core") and t != "atoms_mcp.settings")
        for name, targets in GRAPH.items()
        if name.startswith("atoms_mcp.core")
    }
    assert {name: targets for name, targets in outside.items() if targets} == {}


def test_importing_the_core_loads_neither_the_mcp_sdk_nor_the_sign_in_code() -> None:
    core = sorted(name for name in MODULES if name.startswith("atoms_mcp.core"))
    script = (
        "import importlib, sys\n"
        f"for name in {core!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types', 'authlib')"
        " or m.startswith('atoms_mcp.identity')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


def test_the_cli_modules_import_the_mcp_sdk_only_inside_the_serve_and_login_commands() -> None:
    script = (
        "import sys\n"
        "import atoms_mcp.cli.app\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'mcp_types')"
        " or m in ('atoms_mcp.identity.oauth_login', 'atoms_mcp.server.app')))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
def test_an_installed_wheel_finds_its_migrations_without_the_repository(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=REPO_ROOT,
        check=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("atoms_mcp-*.whl")
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    shipped = sorted(p.name for p in (unpacked / "atoms_mcp" / "supabase" / "migrations").glob("*.sql"))
    assert shipped == sorted(p.name for p in (REPO_ROOT / "supabase" / "migrations").glob("*.sql"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = "from atoms_mcp.settings import Settings; print(Settings().supabase_dir)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=elsewhere,
        env={"PYTHONPATH": str(unpacked), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert Path(done.stdout.strip()) == unpacked / "atoms_mcp" / "supabase"
