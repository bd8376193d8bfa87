"""The Terraform READMEs agree with the code they document (docs that cannot drift).

For every module, stack and example: the `## Inputs` table names exactly the variables of
`variables.tf` and the `## Outputs` table exactly the outputs of `outputs.tf`; where a table has
Type, Default or Required columns, each cell matches the variable's `type` and `default`. And the
tree of `infrastructure/terraform/README.md` lists every module, stack and example directory.

No terraform binary and no HCL library: the `.tf` files are laid out by `terraform fmt` (the
static checks enforce it), so a block starts with `variable "x" {` at column 0 and its own
attributes are indented two spaces; the defaults are literals, parsed below.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from bootstrap_flows.config.settings import PROJECT_ROOT

TERRAFORM = PROJECT_ROOT / "infrastructure" / "terraform"
KINDS = ("modules", "stacks", "examples")
ROOTS = sorted(p for kind in KINDS for p in TERRAFORM.glob(f"{kind}/*") if p.is_dir())

NO_DEFAULT = object()  # a variable without `default` (required)
_BLOCK = re.compile(r'^(variable|output) "([^"]+)" \{$')
_ATTRIBUTE = re.compile(r"^  ([a-z_]+)\s*=\s*(.*)$")
_CODE = re.compile(r"`([^`]*)`")
_NAME = re.compile(r"[a-z][a-z0-9_]*")


@dataclass(frozen=True)
class Variable:
    type: str
    default: object  # a Python value, or NO_DEFAULT


@dataclass(frozen=True)
class Row:
    """One name of a README table's row (a row may document several names at once)."""

    name: str
    cells: dict[str, str]  # column name (lowercase) -> this name's part of the cell


# -- the .tf side ----------------------------------------------------------------------------


def _blocks(path: Path, kind: str) -> dict[str, dict[str, str]]:
    """`kind` blocks of a fmt-formatted file: name -> {attribute: its expression's text}."""
    blocks: dict[str, dict[str, str]] = {}
    attributes: dict[str, str] | None = None
    key, value = "", ""
    depth = 0  # open brackets of an attribute's value that spans lines
    for line in path.read_text().splitlines():
        if attributes is None:
            match = _BLOCK.match(line)
            if match and match[1] == kind:
                assert match[2] not in blocks, f"{path}: {kind} {match[2]} declared twice"
                attributes = blocks[match[2]] = {}
            continue
        if depth:
            value += "\n" + line
            depth += _open_brackets(line)
            if not depth:
                attributes[key] = value
            continue
        if line == "}":
            attributes = None
        elif match := _ATTRIBUTE.match(line):
            key, value = match[1], match[2]
            depth = _open_brackets(value)
            if not depth:
                attributes[key] = value
    return blocks


def _open_brackets(text: str) -> int:
    """Brackets `text` opens minus those it closes, outside strings."""
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    return sum(code.count(c) for c in "([{") - sum(code.count(c) for c in ")]}")


def variables(root: Path) -> dict[str, Variable]:
    return {
        name: Variable(
            type=attributes.get("type", "any"),
            default=_literal(attributes["default"]) if "default" in attributes else NO_DEFAULT,
        )
        for name, attributes in _blocks(root / "variables.tf", "variable").items()
    }


def outputs(root: Path) -> set[str]:
    return set(_blocks(root / "outputs.tf", "output"))


_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)'
    r"|(?P<word>[A-Za-z_][\w-]*)|(?P<punct>[][{}=:,]))"
)


def _literal(text: str) -> object:
    """The value of an HCL (or JSON) literal: strings, numbers, bools, null, lists, objects."""
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ValueError(f"not a literal: {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match[kind]))
        position = match.end()
    value, rest = _value(tokens)
    if rest:
        raise ValueError(f"not one literal: {text!r}")
    return value


def _value(tokens: list[tuple[str, str]]) -> tuple[object, list[tuple[str, str]]]:
    if not tokens:
        raise ValueError("a literal ends early")
    (kind, token), rest = tokens[0], tokens[1:]
    if kind in ("string", "number"):
        return json.loads(token), rest
    if kind == "word":
        if token not in ("true", "false", "null"):
            raise ValueError(f"not a literal: {token}")
        return json.loads(token), rest
    if token == "[":
        items: list[object] = []
        while rest and rest[0][1] != "]":
            item, rest = _value(rest)
            items.append(item)
            rest = rest[1:] if rest and rest[0][1] == "," else rest
        return items, rest[1:]
    if token == "{":
        fields: dict[str, object] = {}
        while rest and rest[0][1] != "}":
            (key_kind, key), rest = rest[0], rest[1:]
            if not rest or rest[0][1] not in ("=", ":"):
                raise ValueError(f"no value for key {key}")
            fields[json.loads(key) if key_kind == "string" else key], rest = _value(rest[1:])
            rest = rest[1:] if rest and rest[0][1] == "," else rest
        return fields, rest[1:]
    raise ValueError(f"unexpected {token!r}")


# -- the README side -------------------------------------------------------------------------


def table(readme: Path, heading: str) -> list[Row]:
    """The rows of the first table after `## <heading>`; a row whose Name cell holds several
    `names` counts once for each, and a cell split by ` / ` or `, ` into as many parts as
    there are names gives each name its part (`cpu` / `memory` ... `1024` / `2048`)."""
    lines = readme.read_text().splitlines()
    assert f"## {heading}" in lines, f"{readme} has no '## {heading}' section"
    start = lines.index(f"## {heading}") + 1
    section = []
    for line in lines[start:]:
        if line.startswith("## "):
            break
        section.append(line)
    table_lines = [line for line in section if line.startswith("|")]
    assert len(table_lines) >= 2, f"{readme}: '## {heading}' has no table"
    header = [cell.lower() for cell in _cells(table_lines[0])]
    assert header[0] == "name", f"{readme}: the {heading} table's first column is {header[0]!r}"
    rows = []
    for line in table_lines[2:]:
        cells = _cells(line)
        assert len(cells) == len(header), f"{readme}: {len(cells)} cells in {line!r}"
        names = _CODE.findall(cells[0])
        assert names and all(_NAME.fullmatch(n) for n in names), f"{readme}: {line!r}"
        for index, name in enumerate(names):
            rows.append(
                Row(
                    name,
                    {h: _part(c, index, len(names)) for h, c in zip(header, cells, strict=True)},
                )
            )
    return rows


def _cells(line: str) -> list[str]:
    # `|` inside a cell would be written `\|`; none of the tables needs it.
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _part(cell: str, index: int, count: int) -> str:
    if count > 1:
        for separator in (" / ", ", "):
            parts = cell.split(separator)
            if len(parts) == count:
                return parts[index].strip()
    return cell


def _documented_type(cell: str) -> str:
    return _normal_type(cell.strip("`"))


def _normal_type(expression: str) -> str:
    # `list(object({ a = string, b = number }))` on one line == the fmt-formatted block.
    return re.sub(r"[\s,]", "", expression)


def _documented_default(cell: str) -> object:
    """The default a cell states: NO_DEFAULT for n/a, a value for one `literal`, else None
    (prose such as "a placeholder digest": only says there is a default)."""
    if cell == "n/a":
        return NO_DEFAULT
    match = re.fullmatch(r"`([^`]*)`", cell)
    return _literal(match[1]) if match else None


# -- the tests -------------------------------------------------------------------------------


def _root_id(root: Path) -> str:
    return f"{root.parent.name}/{root.name}"


def _same_names(documented: list[str], declared: set[str], source: str) -> None:
    twice = sorted({name for name in documented if documented.count(name) > 1})
    missing = sorted(declared - set(documented))
    extra = sorted(set(documented) - declared)
    assert not twice, f"README rows documented twice: {twice}"
    assert not missing, f"{source} declares, the README table lacks: {missing}"
    assert not extra, f"the README table documents, {source} does not declare: {extra}"


@pytest.mark.parametrize("root", ROOTS, ids=_root_id)
def test_inputs_table_matches_variables(root: Path) -> None:
    declared = variables(root)
    rows = table(root / "README.md", "Inputs")
    names = [row.name for row in rows]
    _same_names(names, set(declared), "variables.tf")

    wrong = []
    for row in rows:
        variable = declared[row.name]
        required = variable.default is NO_DEFAULT
        if "required" in row.cells and row.cells["required"] != ("yes" if required else "no"):
            wrong.append(f"{row.name}: Required {row.cells['required']!r}")
        if "type" in row.cells and _documented_type(row.cells["type"]) != _normal_type(
            variable.type
        ):
            wrong.append(f"{row.name}: Type {row.cells['type']} != {variable.type}")
        if "default" in row.cells:
            stated = _documented_default(row.cells["default"])
            if (stated is None and required) or (stated is not None and stated != variable.default):
                shown = "n/a" if required else json.dumps(variable.default)
                wrong.append(f"{row.name}: Default {row.cells['default']} != {shown}")
    assert not wrong, "README cells that disagree with variables.tf:\n" + "\n".join(wrong)


@pytest.mark.parametrize("root", ROOTS, ids=_root_id)
def test_outputs_table_matches_outputs(root: Path) -> None:
    names = [row.name for row in table(root / "README.md", "Outputs")]
    declared = outputs(root)
    _same_names(names, declared, "outputs.tf")


def test_tree_lists_every_module_stack_and_example() -> None:
    readme = (TERRAFORM / "README.md").read_text()
    tree = re.search(r"^```\ninfrastructure/terraform/\n(.*?)^```", readme, re.M | re.S)
    assert tree, "infrastructure/terraform/README.md has no tree"
    listed: dict[str, set[str]] = {}
    kind = ""
    for line in tree[1].splitlines():
        entry = re.match(r"^((?:│   |    )*)[├└]── ([\w.-]+)/", line)
        if not entry:
            continue
        if not entry[1]:
            kind = entry[2]
            listed[kind] = set()
        elif len(entry[1]) == 4:
            listed[kind].add(entry[2])
    on_disk = {kind: {p.name for p in (TERRAFORM / kind).iterdir() if p.is_dir()} for kind in KINDS}
    for kind in KINDS:
        missing = sorted(on_disk[kind] - listed.get(kind, set()))
        extra = sorted(listed.get(kind, set()) - on_disk[kind])
        assert not missing, f"the tree lacks {kind}/ {missing}"
        assert not extra, f"the tree lists {kind}/ {extra}, which do not exist"
    assert set(listed) == set(KINDS), f"the tree's top level: {sorted(listed)}"


def test_literals_parse_as_terraform_reads_them() -> None:
    # The parser the tests above rely on: HCL and the READMEs' JSON spelling give one value.
    hcl = '[{ capacity_provider = "FARGATE", weight = 1, base = 0 }]'
    assert _literal(hcl) == _literal('[{"capacity_provider": "FARGATE", "weight": 1, "base": 0}]')
    assert _literal('{\n  a = ["x", "y"]\n  "b" = null\n}') == {"a": ["x", "y"], "b": None}
    assert _literal("16.4") == 16.4 and _literal('"16.4"') == "16.4"
    with pytest.raises(ValueError):
        _literal("var.other")
