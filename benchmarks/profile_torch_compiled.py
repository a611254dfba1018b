"""Where a warm torch.compile'd fit spends its time: one block call vs the kernel inside it.

Usage: python benchmarks/profile_torch_compiled.py [--gradient autograd] [--strategy gram]

Times (1) a cold compile (inductor's caches disabled), (2) the whole warm fit, (3) the bare
compiled block called in a tight loop, then prints the top of a cProfile of the warm fit
so the per-call overhead (dynamo guards, AOT and inductor wrappers) is visible beside the
compiled kernel (``inductor_entry_cpp``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import torch

import gradpoly
from gradpoly.engines import torch_engine
from gradpoly.options import Device, Gradient, Strategy
from gradpoly.seed import seed_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--profile-lines", type=int, default=12)
    parser.add_argument("--gradient", default="autograd", choices=["manual", "autograd"])
    parser.add_argument("--strategy", default="gram", choices=["gram", "per-sample"])
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = seed_data()
    kwargs = dict(
        degree=4,
        steps=args.steps,
        engine="torch",
        mode="compiled",
        gradient=args.gradient,
        strategy=args.strategy,
    )
    torch._inductor.config.force_disable_caches = True  # a cold compile, as on a fresh machine
    start = time.perf_counter()
    gradpoly.fit(x, y, **kwargs)  # warm-up: compile
    cold = time.perf_counter() - start
    warm = gradpoly.fit(x, y, **kwargs)
    print(
        f"first fit with caches disabled: {cold:.2f} s, of which compile (and inductor's "
        f"first import) {cold - warm.seconds:.2f} s and one warm run {warm.seconds:.2f} s"
    )
    calls = -(-args.steps // torch_engine.BLOCK_STEPS)
    print(
        f"warm fit: {warm.seconds:.3f} s for {args.steps:,} steps = {calls:,} block calls "
        f"of {torch_engine.BLOCK_STEPS} steps: {1e6 * warm.seconds / calls:.1f} us per call"
    )

    block = torch_engine.compiled_block(
        Strategy(args.strategy), Gradient(args.gradient), Device.CPU
    )
    problem = gradpoly.FitProblem.from_data(x, y, 4)
    g, c, s = (torch.as_tensor(v, dtype=torch.float32) for v in problem.gram)
    a, b = (torch.as_tensor(v, dtype=torch.float32) for v in problem.design())
    data = (g, c, s) if args.strategy == "gram" else (a, a.T.contiguous(), b)
    w, n, lr = torch.zeros(5), torch.tensor(torch_engine.BLOCK_STEPS), torch.tensor(1e-5)
    block(w, n, lr, *data)
    start = time.perf_counter()
    for _ in range(calls):
        w, _losses = block(w, n, lr, *data)
    bare = time.perf_counter() - start
    print(
        f"bare compiled block in a loop: {1e6 * bare / calls:.1f} us per call "
        f"({1e6 * bare / args.steps:.2f} us per step)"
    )

    profile = cProfile.Profile()
    profile.enable()
    gradpoly.fit(x, y, **kwargs)
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(args.profile_lines)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:4000])


if __name__ == "__main__":
    main()
