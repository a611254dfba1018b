"""First compiled fit of a fresh process: cold, cold with a builder process, and cached.

Usage: python benchmarks/compile_cache.py [--gradient autograd] [--strategy gram]
       [--steps 2000] [--json docs/compile_cache.json]

Each row is a fresh Python process timing its first compiled fit, import of gradpoly
included, with gradpoly's and inductor's cache folders empty at the start:
1. inductor's caches disabled: the package is built in the call (nothing can be kept);
2. caches on, waiting for the package (``waiting_for_packages``): built in the call;
3. caches on, the default: the fit runs eager steps while a builder process builds the
   package; the row also gives the seconds until the package was loaded;
4. caches on, the folder row 3 filled (every later process on this machine);
then the same fit warm, in-process, compiled, to separate compile time from running time.
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
import contextlib, json, sys, time
start = time.perf_counter()
import torch
torch.set_num_threads(1)
if sys.argv[1] == "off":
    torch._inductor.config.force_disable_caches = True
import gradpoly
from gradpoly.engines import torch_engine
from gradpoly.engines.package_builds import waiting_for_packages
from gradpoly.seed import seed_data
x, y = seed_data()
options = gradpoly.NOTEBOOK.options() | dict(degree=4, steps=int(sys.argv[2]), engine="torch",
               mode="compiled", gradient=sys.argv[3], strategy=sys.argv[4])
with waiting_for_packages() if sys.argv[1] == "wait" else contextlib.nullcontext():
    first = gradpoly.fit(x, y, **options)
cold = time.perf_counter() - start
for pending in list(torch_engine._BUILDS.values()):
    pending.wait()
ready = time.perf_counter() - start
warm = gradpoly.fit(x, y, **options)
assert "eager_steps" not in warm.environment
eager = int(first.environment.get("eager_steps", "0").split(":")[0])
print(json.dumps({"first_fit_seconds": cold, "package_ready_seconds": ready,
                  "eager_steps": eager, "warm_fit_seconds": warm.seconds}))
"""


def child(cache: str, folder: str, args: argparse.Namespace) -> dict[str, float]:
    """One fresh process: seconds to its first compiled fit, to its package, and a warm fit."""
    env = dict(os.environ, TORCHINDUCTOR_CACHE_DIR=os.path.join(folder, "inductor"))
    env["GRADPOLY_CACHE_DIR"] = os.path.join(folder, "gradpoly")
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
    cases = (
        ("caches disabled: built in the call", "off", None),
        ("empty caches, waiting: built in the call", "wait", None),
        ("empty caches (a fresh machine): builder", "on", "kept"),
        ("caches filled by the builder (later runs)", "on", "kept"),
    )
    with tempfile.TemporaryDirectory() as kept:
        for label, cache, reuse in cases:
            with tempfile.TemporaryDirectory() as fresh:
                start = time.perf_counter()
                times = child(cache, kept if reuse else fresh, args)
                times["process_seconds"] = time.perf_counter() - start
            rows.append({"case": label, **times})
            eager = f"; {times['eager_steps']:,} steps eager" if times["eager_steps"] else ""
            print(
                f"{label:42} first result {times['first_fit_seconds']:6.2f} s; package loaded "
                f"at {times['package_ready_seconds']:6.2f} s{eager}; warm fit "
                f"{times['warm_fit_seconds']:.4f} s"
            )
    print(
        f"torch {args.gradient} {args.strategy}, {args.steps:,} steps, imports included; "
        "target: first result <= 10 s in a fresh process with empty caches"
    )
    if args.json:
        from gradpoly.environment import describe_machine
        from gradpoly.outputs import json_text, write_text_atomic

        document = {"rows": rows, "args": vars(args), "machine": describe_machine()}
        write_text_atomic(args.json, json_text(document))


if __name__ == "__main__":
    main()
