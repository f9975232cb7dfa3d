"""Conveniences of the Python API that compose the library's own functions (see `simulator`)."""

from __future__ import annotations

from datetime import date


def _date(value, what: str) -> date:
    from simulator.core.units import partial_date

    try:
        return partial_date(value)
    except ValueError as exc:
        raise ValueError(f"{what} {value!r}: {exc}") from None


def solve_frontier(start, end=None, step: str = "quarter", config=None, relax: bool = True, progress=None) -> list:
    """The largest feasible training run at each date from `start` to `end`, as frontier `Run`s.

    `start`, `end`: dates or 'YYYY[-MM[-DD]]' text (`end` None: `start` alone); the grid is
    the first day of each month, quarter or year (`step`) in the range, as `simulator
    frontier` solves it. `config`: a FrontierConfig (`load_frontier(path)`; None: the
    built-in baseline). `relax`: also measure which constraint binds (2x-relaxation gains;
    False is about 5x faster). `progress(done, total)` is called after each date. Each Run
    carries the device, device count, layout, training FLOP, cost and the binding
    constraints (`run.flop`, `run.device`, `run.n_devices`, `run.binding`, ...).

    Raises ValueError for a date that is not one or an end before the start. Dates
    outside the data (see `check_date_range`) are the caller's to check.

    >>> runs = solve_frontier("2012", "2014", step="year", relax=False)
    >>> [(r.at.year, r.feasible) for r in runs]
    [(2012, True), (2013, True), (2014, True)]
    """
    from simulator.frontier.config import load_frontier
    from simulator.frontier.series import date_grid, frontier_series

    first = _date(start, "start")
    last = first if end is None else _date(end, "end")
    dates = [first] if end is None else date_grid(first, last, step)
    return frontier_series(config if config is not None else load_frontier(), dates, progress=progress, relax=relax)
