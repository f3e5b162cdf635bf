"""Code blocks of the README and docs/: found by language, with the marker comment before each.

A block runs as written unless the line before its fence is `<!-- docs: check-only REASON -->`,
in which case it is only parsed (Python) or syntax-checked (bash).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"(?P<before>[^\n]*)\n```(?P<lang>\w+)\n(?P<code>.*?)\n```", re.S)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    code: str
    check_only: bool

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path, lang: str) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        if match["lang"] != lang:
            continue
        line = text.count("\n", 0, match.start("code"))
        check_only = match["before"].strip().startswith("<!-- docs: check-only")
        found.append(Block(page, line, lang, match["code"], check_only))
    return found
