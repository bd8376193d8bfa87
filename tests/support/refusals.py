"""The README's table of refused inputs, read as data: every row is a test case.

The unit tests (tests/unit/test_refused_inputs.py) and the live ones
(tests/integration/test_refused_inputs_live.py) take their expected messages from this table,
and a unit test checks that every row has exactly one case and every case a row, so the
documentation and the tests cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bootstrap_flows.config.settings import PROJECT_ROOT

README = PROJECT_ROOT / "README.md"
SECTION = "## Refused inputs"
# In the message column `…` stands for what differs from run to run (a path, a port).
WILDCARD = "…"
LIVE = "preflight (live)"
SETTINGS_HEADER = "Invalid settings; nothing was changed:"
CHECKED = {"settings", "preflight", LIVE}
_CELL_SPLIT = re.compile(r"(?<!\\)\|")

Key = tuple[str, str]


@dataclass(frozen=True)
class Row:
    input: str
    value: str
    message: str
    checked: str

    @property
    def key(self) -> Key:
        return (self.input, self.value)

    @property
    def live(self) -> bool:
        return self.checked == LIVE

    def matches(self, actual: str) -> bool:
        """Whether the refusal says exactly the row's message, `…` matching anything."""
        pattern = ".*?".join(re.escape(part) for part in self.message.split(WILDCARD))
        return re.fullmatch(pattern, refusal(actual), re.DOTALL) is not None


def refusal(actual: str) -> str:
    """What a row documents: a settings error's one line under its header, or the message."""
    header, _, rest = actual.partition("\n")
    return rest.removeprefix("- ") if header == SETTINGS_HEADER else actual


def _cell(text: str) -> str:
    # Markdown escapes in the README: `\|` and `\*` are a literal pipe and asterisk.
    return text.strip().replace("\\|", "|").replace("\\*", "*")


def _plain(text: str) -> str:
    return _cell(text).replace("`", "")


def rows() -> dict[Key, Row]:
    """The rows of the README's "Refused inputs" table, by (input, refused value)."""
    text = README.read_text()
    assert SECTION in text, f"README.md has no {SECTION!r} section"
    section = text.split(SECTION, 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    found: dict[Key, Row] = {}
    for line in lines[2:]:  # the header and its separator
        cells = _CELL_SPLIT.split(line.strip().strip("|"))
        assert len(cells) == 4, f"a row of the refused-inputs table needs 4 cells: {line}"
        row = Row(_plain(cells[0]), _plain(cells[1]), _cell(cells[2]), _plain(cells[3]))
        assert row.key not in found, f"two rows for {row.key}"
        assert row.checked in CHECKED, f"{row.key}: checked by {row.checked!r}?"
        found[row.key] = row
    return found
