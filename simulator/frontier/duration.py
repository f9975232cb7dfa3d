"""How long the largest run lasts: a decision, not a measured trend.

An actor that wants the most capable result by a date trades training longer against
starting later on better hardware and algorithms with more money (Sevilla et al. 2022,
Epoch AI, "The longest training run"): if what a run can do grows at continuous rate r
a year (hardware price-performance g_H + algorithmic efficiency g_S + investment g_I),
a run of length L ending at T does ~ L e^{r (T - L)}, largest at L* = 1 / r. That is
the economic optimum, in days:

    L* = 365.25 / (ln 2 / hardware doubling years + ln 2 / (algorithmic halving months / 12)
                   + ln(investment growth per year))

A research group does not wait that long for one experiment: before an actor trains
flagship models (`Actor.flagship_from`, an organisation fact), its run lasts at most the
research turnaround (Dean 2016: "1-4 weeks: high value experiments only; progress stalls;
>1 month: don't even try"). Every rate and the turnaround are uncertain inputs
(catalog/uncertainty.csv, drawn by `reproduce`); measured run lengths
(frontier_inputs.csv duration rows) are kept as checks, never read here.
"""

from __future__ import annotations

import math
from datetime import date

from simulator.catalog.supply import first_gpu_date
from simulator.frontier.actors import Actor
from simulator.frontier.config import FrontierConfig

DAYS_PER_YEAR = 365.25


def growth_rate(at: date, config: FrontierConfig, algorithmic_key: str | None) -> float:
    """r (per year): the growth of what a run started later can do (module doc)."""
    hw_key = "hardware_doubling_years_gpu" if at >= first_gpu_date() else "hardware_doubling_years_computers"
    r = math.log(2) / config.input(hw_key) + math.log(config.input("investment_growth_per_year"))
    if algorithmic_key:
        r += math.log(2) / (config.input(algorithmic_key) / 12)
    return r


def economic_days(at: date, config: FrontierConfig, algorithmic_key: str | None) -> float:
    """Epoch's optimal run length L* = 1 / r, in days."""
    return DAYS_PER_YEAR / growth_rate(at, config, algorithmic_key)


def run_length_days(actor: Actor, at: date, config: FrontierConfig, algorithmic_key: str | None) -> tuple[float, str]:
    """(days, rule) of the largest run of `actor` ending at `at`: the scenario's
    max_duration_days where set, else the economic optimum, capped by the research
    turnaround before the actor trains flagship models."""
    if config.max_duration_days is not None:
        return float(config.max_duration_days), "scenario"
    days, rule = economic_days(at, config, algorithmic_key), "economic optimum"
    if not actor.flagship(at):
        turnaround = config.input("research_turnaround_days")
        if turnaround < days:
            days, rule = turnaround, "research turnaround"
    return days * config.duration_scale, rule
