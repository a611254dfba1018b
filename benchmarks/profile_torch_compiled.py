"""Where a warm compiled torch fit spends its time: one block call vs the kernel inside it.

Usage: python benchmarks/profile_torch_compiled.py [--gradient autograd] [--strategy gram]
       [--compiler aoti-stack|aoti|dynamo|unguarded]

Times (1) a cold compile (inductor's caches disabled), (2) the whole warm fit, (3) the bare
compiled block called in a tight loop, then prints the top of a cProfile of the warm fit
so the per-call overhead (dynamo guards and wrappers, or the AOTInductor runner) is visible
beside the compiled kernel.
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
from gradpoly.engines.torch_engine import Compiler
from gradpoly.options import Device, Gradient, Strategy
from gradpoly.seed import seed_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--profile-lines", type=int, default=12)
    parser.add_argument("--gradient", default="autograd", choices=["manual", "autograd"])
    parser.add_argument("--strategy", default="gram", choices=["gram", "per-sample"])
    parser.add_argument(
        "--compiler", default=str(torch_engine.Compiler.AOTI_STACK), choices=list(Compiler)
    )
    args = parser.parse_args()
    with torch_engine.compiling_with(Compiler(args.compiler)):
        profile(args)


def profile(args: argparse.Namespace) -> None:
    """The three timings and the profile, for the compiler in force."""
    print(f"compile route: {args.compiler}")
    torch.set_num_threads(1)
    x, y = seed_data()
    kwargs = gradpoly.NOTEBOOK.options() | dict(  # the notebook's run, compiled
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

    problem = gradpoly.FitProblem.from_data(x, y, 4)
    g, c, s = (torch.as_tensor(v, dtype=torch.float32) for v in problem.gram.one())
    a, b = (torch.as_tensor(v, dtype=torch.float32) for v in problem.design())
    data = (g, c, s) if args.strategy == "gram" else (a, a.T.contiguous(), b)
    w, n, lr = torch.zeros(5), torch.tensor(torch_engine.BLOCK_STEPS), torch.tensor(1e-5)
    strategy, gradient = Strategy(args.strategy), Gradient(args.gradient)
    if args.compiler in (Compiler.AOTI, Compiler.AOTI_STACK):
        stack = args.compiler == Compiler.AOTI_STACK
        block = torch_engine.packaged_block(strategy, gradient, (w, n, lr, *data), stack)
    else:
        block = torch_engine.compiled_block(strategy, gradient, Device.CPU)
    block(w, n, lr, *data)
    start = time.perf_counter()
    for _ in range(calls):
        w, _losses = block(w, n, lr, *data)
        w = w.clone()  # as the engine does (a stack package returns the same memory)
    bare = time.perf_counter() - start
    print(
        f"bare compiled block in a loop: {1e6 * bare / calls:.1f} us per call "
        f"({1e6 * bare / args.steps:.2f} us per step)"
    )

    profiler = cProfile.Profile()
    profiler.enable()
    gradpoly.fit(x, y, **kwargs)
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.profile_lines)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[:4000])


if __name__ == "__main__":
    main()
