"""Copy the generated tables (docs/*.md, written by the benchmark scripts) into the README.

Usage: python benchmarks/readme_sync.py [--check]

Each README block between ``<!-- generated: docs/NAME.md -->`` and ``<!-- end generated -->``
is replaced by that file's text (a ``.txt`` file, a script's printed output, in a text
fence), so the README's figures are the benchmarks' own output and cannot drift; ``--check``
exits 1 (naming the block) when the README is out of date.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


def synced(text: str) -> tuple[str, list[str]]:
    """The README with every block refreshed, and the names of the blocks that changed."""
    changed: list[str] = []

    def refresh(match: re.Match[str]) -> str:
        fresh = (ROOT / match["name"]).read_text()
        if match["name"].endswith(".txt"):  # a script's printed output: shown as it printed
            fresh = "```text\n" + fresh + "```\n"
        if fresh != match["body"]:
            changed.append(match["name"])
        return match.group(1) + fresh + match.group(4)

    return BLOCK.sub(refresh, text), changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is in sync")
    args = parser.parse_args()
    readme = ROOT / "README.md"
    text, changed = synced(readme.read_text())
    if args.check:
        if changed:
            print(f"README.md is out of date with {', '.join(changed)}: run {__file__}")
            sys.exit(1)
        return
    sys.path.insert(0, str(ROOT / "src"))
    from gradpoly.outputs import write_text_atomic  # atomic, regular files only, mode kept

    write_text_atomic(readme, text)
    print(f"refreshed {len(changed)} block(s): {', '.join(changed) or 'none'}")


if __name__ == "__main__":
    main()
