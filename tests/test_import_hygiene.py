"""The seam: store/ never loads the UI, and no UI module imports a backend's driver."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STORE_MODULES = sorted(".".join(p.relative_to(ROOT / "store").with_suffix("").parts)
                       for p in (ROOT / "store").rglob("*.py") if p.stem != "__init__")
DRIVERS = {"sqlite3", "aiosqlite", "nats"}


def test_store_loads_neither_textual_nor_tui():
    imports = "; ".join(f"import store.{m}" for m in STORE_MODULES)
    code = (f"import sys; {imports}; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def imports_of(folders: list[str], packages: set[str]) -> list[str]:
    """Where a module under folders imports one of packages (absolute imports): "path:line name"."""
    found = []
    for path in sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}"
                      for n in names if n.split(".")[0] in packages]
    return found


def test_no_ui_module_imports_a_backend_driver():
    assert imports_of(["tui"], DRIVERS) == []


def test_runtime_store_modules_load_no_dev_tool():
    """Demo data, the seeder and nats-server processes (store.dev) are not storage."""
    imports = "; ".join(f"import store.{m}" for m in STORE_MODULES if not m.startswith("dev."))
    code = (f"import sys; {imports}; "
            "bad = sorted(m for m in sys.modules if m.startswith('store.dev')); "
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_package_needs_nothing_from_tests():
    """An installed copy has no tests/ (the screenshots run from one: .ci/run proves it)."""
    assert imports_of(["store", "tui"], {"tests", "bench"}) == []
