"""``select_degree``: the degree of one curve or of each of B curves, chosen by a criterion
(:mod:`gradpoly.selection`) over the nested fits of one set of Gram statistics of the largest
degree: one pass over the data, then a small solve per degree (the same solve and the same
conditioning verdict as :func:`~gradpoly.many.api.lstsq_many`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from gradpoly import display, mapping, selection, validation
from gradpoly.calling import keyword_only
from gradpoly.errors import InvalidOptionError, UnfittedWarning, warn
from gradpoly.losses import Loss
from gradpoly.many.finish import assemble
from gradpoly.many.inputs import one_curve
from gradpoly.many.prepare import Prepared, choose_backend, prepare
from gradpoly.many.result import ManyResult
from gradpoly.options import BEST, Basis, Device
from gradpoly.result import known_sigma

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class DegreeSelection:
    """The chosen degree of each series and every criterion of every degree 0..max_degree.

    Arrays are per series (B, ...), or one series' where one curve was given. ``coef`` holds
    the monomial coefficients of the chosen fit (increasing powers, zero above its degree);
    ``scores`` maps each criterion computed to its (B, max_degree + 1) values (NaN: that degree
    cannot be fitted; inf: too few points to judge it). ``result(d)`` is every series' fit of
    degree d with its statistics.
    """

    degree: Any
    """The chosen degree (-1 for a series no degree could be fitted to)."""
    criterion: str
    scores: dict[str, Any]
    rss: Any
    """The weighted residual sum of squares of each degree's fit."""
    n: Any
    """Points with positive weight."""
    coef: Any
    max_degree: int
    single: bool
    seconds: float
    problems: dict[int, str] = field(default_factory=dict)
    _prepared: Prepared | None = field(default=None, repr=False)
    _absolute: bool = field(default=False, repr=False)

    def __repr__(self) -> str:
        chosen = np.atleast_1d(np.asarray(self.degree))
        fitted = chosen[chosen >= 0]
        counts: Any = np.bincount(fitted, minlength=self.max_degree + 1) if fitted.size else []
        spread = ", ".join(f"{d}: {int(c)}" for d, c in enumerate(counts) if c)
        return (
            f"DegreeSelection({self.criterion}, degrees 0..{self.max_degree}, "
            f"{chosen.size} series; chosen {{{spread}}})"
        )

    def _repr_html_(self) -> str:
        if self.single:
            return self.table()._repr_html_()
        return display.table("degree selection", [("", repr(self))])

    def table(self) -> display.Summary:
        """One series' criteria by degree (the chosen one marked), as the CLI prints it."""
        if not self.single:
            raise InvalidOptionError("table() is one curve's: index the series' arrays instead")
        names = list(self.scores)
        rows = tuple(
            (
                f"{d}" + (" *" if d == int(self.degree) else ""),
                f"{float(self.rss[d]):.6g}",
                *(f"{float(self.scores[name][d]):.6g}" for name in names),
            )
            for d in range(self.max_degree + 1)
        )
        title = f"degree by {self.criterion} (* chosen), n {int(self.n)}"
        return display.Summary(title, ("degree", "rss", *names), rows)

    def result(self, degree: int) -> ManyResult:
        """Every series' least-squares fit of ``degree`` (<= max_degree) with its statistics:
        the fits the criteria judged (those of the series that chose it are theirs)."""
        prepared = self._prepared
        if prepared is None:
            raise InvalidOptionError("this selection holds no fits (it was loaded)")
        d = validation.degree(degree)
        if d > self.max_degree:
            raise InvalidOptionError(
                f"degree {d} is above the largest one judged, {self.max_degree}"
            )
        nested = prepared.leading(d + 1)
        w, condition, inverse = nested.solve(Basis.CHEBYSHEV)
        how = (Basis.CHEBYSHEV, "lstsq", "numpy", str(Loss.MSE))
        result = assemble(w, nested, how, 0.0, inverse=inverse, condition=condition)
        return known_sigma(result, self._absolute)

    def summary(self) -> dict[str, Any]:
        """JSON-ready: the criterion, degrees, chosen degree(s), coefficients and scores."""

        def plain(value: Any) -> Any:
            return np.asarray(value, dtype=np.float64).tolist()

        return {
            "criterion": self.criterion,
            "max_degree": self.max_degree,
            "degree": np.asarray(self.degree).tolist(),
            "coef": plain(self.coef),
            "n": plain(self.n),
            "rss": plain(self.rss),
            "scores": {name: plain(value) for name, value in self.scores.items()},
        }


@keyword_only(3)
def select_degree(
    x: Any,
    y: Any,
    max_degree: int,
    *,
    criterion: str = "aicc",
    weights: Any = None,
    sigma: Any = None,
    absolute_sigma: bool = False,
    drop_nan: bool = False,
    engine: str = BEST.engine,
    device: Device | str = Device.CPU,
    series: Any = None,
    mask: Any = None,
) -> DegreeSelection:
    """Choose the degree (0..``max_degree``) of one curve, or of each of B curves, by
    ``criterion``: ``"aicc"`` (default), ``"aic"``, ``"bic"``, ``"gcv"`` or ``"loo"``
    (leave-one-out cross-validation: the mean weighted squared error of each point
    predicted by the fit without it; exact, from each point's leverage).

    Takes x, y, weights, sigma, drop_nan, mask and series as :func:`gradpoly.lstsq_many`
    does (a 1-D x and 1-D y: one curve). Every degree is fitted from the statistics of
    ``max_degree`` (one pass over the data), by the same solve as ``lstsq_many``; AIC, AICc
    and BIC are statsmodels' (OLS/WLS log-likelihood, k = degree + 1 parameters), so they
    equal fitting each degree with statsmodels. ``absolute_sigma`` only changes the
    statistics of :meth:`DegreeSelection.result`; the criteria estimate the scale.
    """
    start = time.perf_counter()
    chosen_criterion = selection.criterion(criterion)
    degree = validation.degree(max_degree)
    drop = validation.flag("drop_nan", drop_nan)
    weights = validation.inverse_variance(
        weights, sigma, absolute_sigma, nan_ok=drop, hint=", or pass drop_nan=True"
    )
    single = series is None and one_curve(x, y)
    if single:
        x, y = np.asarray(x)[None, :], np.asarray(y)[None, :]
        weights = np.asarray(weights)[None, :] if np.ndim(weights) == 1 else weights
        mask = np.asarray(mask)[None, :] if np.ndim(mask) == 1 else mask
    backend, where = choose_backend(engine, device)
    data = prepare(
        x, y, degree, Basis.CHEBYSHEV, backend, where, weights=weights, series=series,
        mask=mask, drop=drop, storage="float64", progress=None,
    )  # fmt: skip
    count, size = data.gram.c.shape
    rss = np.full((count, size), np.nan)
    unit = np.full((count, size, size), 0.0)  # each degree's basis coefficients, padded
    problems: dict[int, str] = {}
    for d in range(size):
        nested = data.leading(d + 1)
        w, _, _ = nested.solve(Basis.CHEBYSHEV)
        ok = nested.valid
        mse = np.maximum(nested.gram.mse(np.nan_to_num(w)), 0.0)  # < 0 only by rounding
        rss[:, d] = np.where(ok, mse * data.counts, np.nan)  # of y / scale
        unit[:, d, : d + 1] = np.where(ok[:, None], w, np.nan)
        if d == 0:
            problems = dict(nested.problems)
    logs, scale = data.layout.log_weight_sums(), float(data.scale)
    scores = selection.information(rss, data.counts, logs, scale)
    ranked = selection.information(rss, data.counts, logs)  # y / scale: the same order
    if chosen_criterion == "loo":
        batch = data.layout.descent_batch(True)
        g = data.gram.g * data.counts[:, None, None]
        loo = selection.leave_one_out(batch.x, batch.y, batch.w, data.gram.domains,
                                      Basis.CHEBYSHEV, g)  # fmt: skip
        ranked["loo"] = np.where(np.isfinite(rss) | np.isinf(loo), loo, np.nan)
        with np.errstate(over="ignore"):
            scores["loo"] = ranked["loo"] * scale * scale
    best = selection.best(ranked[chosen_criterion])
    with np.errstate(over="ignore"):
        rss = rss * scale * scale  # beyond float64 for y near 1e300: inf, said as it is
    picked = np.take_along_axis(unit, np.maximum(best, 0)[:, None, None], axis=1)[:, 0]
    with np.errstate(over="ignore", invalid="ignore"):
        coef = mapping.basis_to_monomial(picked * data.scale, data.gram.domains, Basis.CHEBYSHEV)
    coef = np.where(best[:, None] >= 0, coef, np.nan)
    for b in np.flatnonzero(best < 0).tolist():
        problems.setdefault(b, "no degree could be fitted and judged (too few points)")
    if problems:
        first = min(problems)
        warn(
            f"{len(problems)} of {count} series have no degree (-1, NaN coefficients) or are "
            f"judged without their higher degrees; series {first}: {problems[first]}",
            UnfittedWarning,
        )

    def out(value: Any) -> Any:
        return value[0] if single else value

    return DegreeSelection(
        degree=out(best),
        criterion=chosen_criterion,
        scores={name: out(value) for name, value in scores.items()},
        rss=out(rss),
        n=out(np.asarray(data.counts, dtype=np.float64)),
        coef=out(coef),
        max_degree=degree,
        single=single,
        seconds=time.perf_counter() - start,
        problems=problems,
        _prepared=data,
        _absolute=bool(absolute_sigma),
    )
