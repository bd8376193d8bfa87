"""The layout's rules that a linter does not check by itself."""

from __future__ import annotations

import ast
import tomllib

from bootstrap_flows.config.settings import PROJECT_ROOT

PACKAGES = (PROJECT_ROOT / "bootstrap_flows", PROJECT_ROOT / "bootstrap_local")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def test_the_product_never_imports_the_embedded_default() -> None:
    """One line of import-linter's contract, no list to keep: `lint-imports` enforces it."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (contract,) = [c for c in contracts if c["type"] == "forbidden"]
    assert contract["source_modules"] == ["bootstrap_flows"]
    assert contract["forbidden_modules"] == ["bootstrap_local"]


def test_every_room_of_the_product_is_a_layer() -> None:
    """A new package or root module must take its place in the layers contract."""
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c["type"] == "layers"]
    named = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    rooms = {
        f"bootstrap_flows.{path.stem}"
        for path in PACKAGES[0].iterdir()
        if path.stem != "__init__" and (path.suffix == ".py" or (path / "__init__.py").is_file())
    }
    assert named == rooms


def test_no_file_over_500_lines_no_function_over_60() -> None:
    too_long: list[str] = []
    for path in sorted(p for package in PACKAGES for p in package.rglob("*.py")):
        text = path.read_text()
        where = path.relative_to(PROJECT_ROOT)
        if len(text.splitlines()) > MAX_FILE_LINES:
            too_long.append(f"{where}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - start + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{where}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
