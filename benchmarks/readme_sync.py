"""Refresh the README's generated blocks from the benchmarks' own output.

Usage: python benchmarks/readme_sync.py [--check]

Each README block between ``<!-- generated: NAME -->`` and ``<!-- end generated -->`` is
replaced: ``table:NAME`` by the table ``docs_tools/tables.py`` renders from ``docs/NAME.json``
(as the documentation site renders it), ``docs/FILE`` by that file's text (a ``.txt`` file, a
script's printed output, in a text fence). ``<!-- example: NAME -->`` blocks are examples run
now and shown with their output (``docs_tools/examples.py``). So the README's figures are the
benchmarks' own and cannot drift; ``--check`` exits 1 (naming the block) when the README is
out of date (times, which vary run to run, are not compared).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs_tools"))
import examples  # noqa: E402  (the site's examples, run as the site runs them)
from tables import RENDERERS  # noqa: E402  (the site's renderers, beside the site's hooks)

BLOCK = re.compile(
    r"(<!-- generated: (?P<name>[^ ]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S
)


EXAMPLE = re.compile(
    r"(<!-- example: (?P<name>\w+) -->\n)(?P<body>.*?)(<!-- end example -->)", re.S
)


def _examples(text: str, changed: list[str]) -> str:
    def refresh(match: re.Match[str]) -> str:
        fresh = examples.render(match["name"])
        if not examples.same(fresh, match["body"]):
            changed.append(f"example {match['name']}")
        return match.group(1) + fresh + match.group(4)

    return EXAMPLE.sub(refresh, text)


def synced(text: str) -> tuple[str, list[str]]:
    """The README with every block refreshed, and the names of the blocks that changed."""
    changed: list[str] = []

    def refresh(match: re.Match[str]) -> str:
        name = match["name"]
        if name.startswith("table:"):
            fresh = RENDERERS[name.removeprefix("table:")]() + "\n"
        else:
            fresh = (ROOT / name).read_text()
        if name.endswith(".txt"):  # a script's printed output: shown as it printed
            fresh = "```text\n" + fresh + "```\n"
        if fresh != match["body"]:
            changed.append(match["name"])
        return match.group(1) + fresh + match.group(4)

    return _examples(BLOCK.sub(refresh, text), changed), changed


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
