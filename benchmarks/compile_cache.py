"""Cold compile of torch.compile'd fits, with and without inductor's caches on disk.

Usage: python benchmarks/compile_cache.py [--gradient autograd] [--strategy gram]
       [--steps 2000] [--json docs/compile_cache.json]

A measurement for the torch issue's third lever (caches that survive a process). Each figure
is a fresh Python process timing its first compiled fit, import of gradpoly included:
1. inductor's caches disabled (a fresh machine, as ``profile_torch_compiled.py`` times it);
2. caches on, in an empty cache folder (a first run: compiles and fills the folder);
3. caches on, the same folder again (every later process on this machine);
then the same fit warm, in-process, to separate compile time from running time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = """
import json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads(1)
if sys.argv[1] == "off":
    torch._inductor.config.force_disable_caches = True
import gradpoly
from gradpoly.seed import seed_data
x, y = seed_data()
options = gradpoly.NOTEBOOK.options() | dict(degree=4, steps=int(sys.argv[2]), engine="torch",
               mode="compiled", gradient=sys.argv[3], strategy=sys.argv[4])
first = gradpoly.fit(x, y, **options)
cold = time.perf_counter() - start
warm = gradpoly.fit(x, y, **options)
print(json.dumps({"first_fit_seconds": cold, "warm_fit_seconds": warm.seconds}))
"""


def child(cache: str, folder: str, args: argparse.Namespace) -> dict[str, float]:
    """One fresh process: seconds to its first compiled fit and to a warm one."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=folder)
    command = [sys.executable, "-c", CHILD, cache, str(args.steps), args.gradient, args.strategy]
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gradient", default="autograd", choices=["manual", "autograd"])
    parser.add_argument("--strategy", default="gram", choices=["gram", "per-sample"])
    parser.add_argument("--steps", type=int, default=2_000)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for label, cache in (
            ("caches disabled (a fresh machine)", "off"),
            ("caches on, empty folder (first run)", "on"),
            ("caches on, filled folder (every later run)", "on"),
        ):
            start = time.perf_counter()
            times = child(cache, folder, args)
            times["process_seconds"] = time.perf_counter() - start
            compile_s = times["first_fit_seconds"] - times["warm_fit_seconds"]
            rows.append({"case": label, **times, "compile_and_import_seconds": compile_s})
            print(
                f"{label:44} first fit {times['first_fit_seconds']:6.2f} s (compile and imports "
                f"{compile_s:6.2f} s; warm fit {times['warm_fit_seconds']:.3f} s)"
            )
    print(f"torch {args.gradient} {args.strategy}, {args.steps:,} steps; target: cold <= 10 s")
    if args.json:
        from gradpoly.environment import describe_machine
        from gradpoly.outputs import json_text, write_text_atomic

        document = {"rows": rows, "args": vars(args), "machine": describe_machine()}
        write_text_atomic(args.json, json_text(document))


if __name__ == "__main__":
    main()
