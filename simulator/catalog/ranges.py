"""The dates the data supports, and what a command does with dates outside them.

- before 1950: impossible (no data; the first computers of the catalog come later): error;
- after FRONTIER_INPUTS_END (2026-07-01, the last date of the frontier's era inputs,
  catalog/frontier_inputs.csv): the frontier holds the inputs of that date fixed, so a
  frontier in 3000 repeats 2026: an extrapolation, answered with a warning;
- after 2100: beyond any extrapolation the simulator supports (the projection's limit;
  an AlexNet-level run priced in 2100 already costs ~1e-22 USD): error.

`check_date_range(start, end, command)` applies these rules for the commands that take
dates (frontier, reproduce, project, efficiency) and names the flag in its one line.
Nothing is read from disk.
"""

from __future__ import annotations

from datetime import date

#: Earliest date any command accepts (the data start after it).
EARLIEST = date(1950, 1, 1)
#: Last date of the frontier's era inputs (catalog/frontier_inputs.csv: site power of
#: Stargate Abilene, planned for 2026-07); `simulator reproduce` ends there by default.
FRONTIER_INPUTS_END = date(2026, 7, 1)
#: Latest date any command accepts: the end of the projection's range.
LATEST = date(2100, 12, 31)

# command -> (flag of the start, flag of the end, what a date past the inputs means, whether the end may pass them)
_INPUTS = "the last date of the frontier's inputs"
_FRONTIER = f"{_INPUTS}: the frontier holds the inputs of that date fixed (devices, prices, budgets, power)"
_COMMANDS = {
    "frontier": ("--start", "--end", _FRONTIER, False),
    "reproduce": ("--start", "--end", _FRONTIER, False),
    "project": ("--from", "--to", f"{_INPUTS}: the start run is solved with the inputs of that date held fixed", True),
    "efficiency": ("--years", "--years", ("the end of the data: the algorithmic-efficiency trend is carried forward "
                                          "and the devices and prices stay those of that date"), False),
}


def _as_date(value) -> date:
    """A date, a year (int: its first day) or 'YYYY[-MM[-DD]]' (the first day of that period)."""
    if isinstance(value, date):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if not 1 <= value <= 9999:
            raise ValueError(f"not a year: {value}")
        return date(value, 1, 1)
    from simulator.core.units import partial_date

    return partial_date(str(value))


def _shown(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def check_date_range(start, end, command: str) -> str | None:
    """Check the dates a command was given against the data's range.

    `start` and `end` are dates, years (int) or 'YYYY[-MM[-DD]]' text; `command` is one of
    frontier, reproduce, project, efficiency (for project: the --from and --to years).
    Raises ValueError (one line naming the flag) for an impossible range: a date before
    1950 or after 2100, or an end before the start. Returns a one-line warning when the
    range extrapolates past the frontier's inputs (after 2026-07-01; for project, when
    the start year does: a projection is meant to run past them), else None.

    >>> check_date_range("2012", "2014", "frontier") is None  # inside the data's range: nothing to say
    True
    >>> check_date_range("2014", "2012", "frontier")
    Traceback (most recent call last):
    ...
    ValueError: --end 2012: before --start 2014
    """
    if command not in _COMMANDS:
        raise ValueError(f"check_date_range: unknown command {command!r}; one of: {', '.join(_COMMANDS)}")
    start_flag, end_flag, meaning, end_may_pass = _COMMANDS[command]
    first, last = _as_date(start), _as_date(end)
    if first < EARLIEST:
        raise ValueError(f"{start_flag} {_shown(start)}: before {EARLIEST.year}, earlier than any data (impossible)")
    if last > LATEST:
        raise ValueError(f"{end_flag} {_shown(end)}: after {LATEST.year}, beyond any extrapolation the simulator "
                         f"supports (the data end {FRONTIER_INPUTS_END})")
    if last < first:
        raise ValueError(f"{end_flag} {_shown(end)}: before {start_flag} {_shown(start)}")
    past = first if end_may_pass else last
    flag, shown = (start_flag, start) if end_may_pass else (end_flag, end)
    if command == "project":
        past = date(first.year, 7, 1)  # the start run is solved at mid-year (trend.project.start_date)
    if past > FRONTIER_INPUTS_END:
        return (f"warning: {flag} {_shown(shown)} is past {FRONTIER_INPUTS_END}, {meaning}: an extrapolation, "
                "not data")
    return None
