"""Why compiled per-sample torch reads the transposed design: both layouts, side by side.

Usage: python benchmarks/per_sample_layout.py [--calls 10000] [--repeats 7]
       [--json docs/per_sample_layout.json]

Builds four AOTInductor packages of the seed's 20-step per-sample block (float32, stack
buffers, in memory): the hand-written gradient and autograd's, each in the eager layout
(``A @ w``, whose traced backward reads ``A^T`` through a strided view) and in the compiled
layout (:func:`gradpoly.engines.torch_engine.fused_residual`: ``A^T`` read row by row with
multiply + sum). Each package is called in a tight loop, the four taking turns per repeat;
reported: microseconds per step (median, spread) and autograd / manual per layout.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
import torch

from gradpoly import FitProblem
from gradpoly.engines import torch_engine as te
from gradpoly.engines.aoti import aoti_package, exported
from gradpoly.seed import seed_data

LAYOUTS = {
    "eager layout (A @ w)": (te.per_sample_manual, te.per_sample_loss),
    "compiled layout (fused A^T sums)": (te.per_sample_manual_fused, te.per_sample_loss_fused),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    x, y = seed_data()
    a, b = FitProblem.from_data(x, y, 4).design(np.float32)
    design = torch.as_tensor(np.ascontiguousarray(a))
    example = (torch.zeros(5), torch.tensor(te.BLOCK_STEPS), torch.tensor(1e-5))
    example += (design, design.T.contiguous(), torch.as_tensor(b))
    blocks: dict[tuple[str, str], Any] = {}
    for layout, (manual, loss) in LAYOUTS.items():
        for gradient, step in (("manual", manual), ("autograd", te._autograd_functional(loss))):
            block = te.make_block(step, te.BLOCK_STEPS)
            blocks[layout, gradient] = aoti_package(lambda b=block: exported(b, example), True)
    samples: dict[tuple[str, str], list[float]] = {key: [] for key in blocks}
    for _ in range(args.repeats):
        for key, block in blocks.items():
            w = example[0]
            start = time.perf_counter()
            for _ in range(args.calls):
                w, _losses = block(w, *example[1:])
            samples[key].append((time.perf_counter() - start) / args.calls / te.BLOCK_STEPS)
    rows = []
    for (layout, gradient), seconds in samples.items():
        median = statistics.median(seconds)
        rows.append({"layout": layout, "gradient": gradient, "us_per_step": median * 1e6,
                     "spread_us": (max(seconds) - min(seconds)) * 1e6})  # fmt: skip
    base = {r["layout"]: r["us_per_step"] for r in rows if r["gradient"] == "manual"}
    for r in rows:
        r["autograd_over_manual"] = r["us_per_step"] / base[r["layout"]]
        line = f"{r['layout']:34} {r['gradient']:8} {r['us_per_step']:7.4f} us/step "
        print(line + f"(spread {r['spread_us']:.4f})  {r['autograd_over_manual']:.2f}x manual")
    print(f"seed block, float32, {te.BLOCK_STEPS} steps a call, {args.calls:,} calls, "
          f"median of {args.repeats}; target: autograd <= 1.1x manual")  # fmt: skip
    if args.json:
        from gradpoly.environment import describe_machine
        from gradpoly.outputs import json_text, write_text_atomic

        document = {"rows": rows, "args": vars(args), "machine": describe_machine()}
        write_text_atomic(args.json, json_text(document))


if __name__ == "__main__":
    main()
