"""The layout's rules that a linter does not check by itself."""

from __future__ import annotations

import ast
import tomllib

from bootstrap_flows.settings import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "bootstrap_flows"
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 60


def test_every_product_module_is_under_the_import_contract() -> None:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())
    (contract,) = config["tool"]["importlinter"]["contracts"]
    children = {
        f"bootstrap_flows.{path.stem if path.is_file() else path.name}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    assert set(contract["source_modules"]) == children - {"bootstrap_flows.local"}
    assert contract["forbidden_modules"] == ["bootstrap_flows.local"]


def test_no_file_over_500_lines_no_function_over_60() -> None:
    too_long: list[str] = []
    for path in sorted(PACKAGE.rglob("*.py")):
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
