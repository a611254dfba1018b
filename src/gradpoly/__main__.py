"""``python -m gradpoly ...``: the CLI without its installed script (e.g. from a source tree)."""

from gradpoly.cli import run

if __name__ == "__main__":
    run()
