"""Benchmarks done right: warm-up excluded, device synchronized, samples kept, results gated.

``harness`` times anything that runs a fit; ``suite`` is what ``gradpoly bench`` runs;
``ladder`` is the seed's torch loop with one remedy at a time (``gradpoly ladder``).
"""

from gradpoly.bench.harness import Measurement, Outcome, Spec, measure, pinned_threads, unavailable

__all__ = ["Measurement", "Outcome", "Spec", "measure", "pinned_threads", "unavailable"]
