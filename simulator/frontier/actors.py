"""Who trains: the actors of each era, each with its own budget, sites, chips and prices.

catalog/actors.csv has one row per actor (a research group, a company's lab, a national
laboratory): from when to when it trained, the device pools it could use (`pools`: a
';' list of `pool` or `pool@YYYY-MM-DD` from which date), how it paid (`price_basis`:
"capex" for hardware it owned, "cloud" for compute it rented or bought as a service)
and how its budget meets a run (`budget_basis`: "rate": a run gets its share of the
actor's yearly compute spending for as long as it lasts (an owned fleet); "run": the
share is spent on the run however short (rented compute)), the date it began training
flagship models (`flagship_from`, an organisation fact: from then its run length is the
economic optimum, before it the research turnaround; frontier/duration.py).

Pools:
- market_gpu: the GPUs (and AMD, Intel accelerators) sold in volume (availability.csv);
- google_tpu, aws_trainium: a company's own chips from internal deployment;
- computer: before accelerators, a computer bought from the actor's budget at the
  price-performance of the date (catalog/supply.py), and hours on the shared machines of
  the date with a documented price.

The frontier at a date is the largest run over the actors active then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from simulator.catalog.eras import catalog_date, catalog_rows
from simulator.core.units import partial_date

ACTORS_CSV = "actors.csv"
POOLS = ("market_gpu", "google_tpu", "aws_trainium", "computer")
KINDS = ("research_group", "academic", "industry_lab", "hyperscaler", "national_lab", "frontier_developer")
_POOL_VENDORS = {"google_tpu": ("Google",), "aws_trainium": ("Amazon",), "market_gpu": ("NVIDIA", "AMD", "Intel")}


@dataclass(frozen=True)
class Actor:  # hashable: markets are cached per actor
    key: str
    name: str
    kind: str
    since: date
    until: date | None
    pools: tuple[tuple[str, date | None], ...]
    price_basis: str  # capex | cloud
    budget_basis: str  # rate | run
    flagship_from: date | None
    source: str
    sites_from: str = ""  # the actor whose sites this one trains on (DeepMind on Google's); "" its own
    supply_share: str = ""  # uncertainty.csv key of the share of a site one run gets ("" all of it)

    @property
    def sites_of(self) -> str:
        return self.sites_from or self.key

    @property
    def ref(self) -> str:
        return f"{ACTORS_CSV}:{self.key}"

    def active(self, at: date) -> bool:
        return self.since <= at and (self.until is None or at < self.until)

    def pool_open(self, pool: str, at: date) -> bool:
        return any(p == pool and (since is None or since <= at) for p, since in self.pools)

    def may_use(self, acc, at: date) -> bool:
        """Whether an accelerator (its vendor) belongs to a pool of this actor open at `at`."""
        for pool, vendors in _POOL_VENDORS.items():
            if acc.vendor in vendors and self.pool_open(pool, at):
                return True
        return False

    def flagship(self, at: date) -> bool:
        return self.flagship_from is not None and self.flagship_from <= at


def _pools(text: str, key: str) -> tuple[tuple[str, date | None], ...]:
    out = []
    for part in (p.strip() for p in text.split(";") if p.strip()):
        pool, _, when = part.partition("@")
        if pool not in POOLS:
            raise ValueError(f"{ACTORS_CSV}: key={key!r}: column 'pools': {pool!r} not one of {', '.join(POOLS)}")
        try:
            out.append((pool, partial_date(when) if when else None))
        except ValueError:
            raise ValueError(f"{ACTORS_CSV}: key={key!r}: column 'pools': not a date: {when!r}") from None
    if not out:
        raise ValueError(f"{ACTORS_CSV}: key={key!r}: column 'pools': empty")
    return tuple(out)


@cache
def all_actors() -> tuple[Actor, ...]:
    out = []
    for r in catalog_rows(ACTORS_CSV):
        key = r["key"]
        if r["kind"] not in KINDS:
            raise ValueError(f"{ACTORS_CSV}: key={key!r}: column 'kind': {r['kind']!r} not one of {', '.join(KINDS)}")
        for col, allowed in (("price_basis", ("capex", "cloud")), ("budget_basis", ("rate", "run"))):
            if r[col] not in allowed:
                raise ValueError(f"{ACTORS_CSV}: key={key!r}: column {col!r}: {r[col]!r} not one of "
                                 f"{', '.join(allowed)}")
        out.append(Actor(key, r["name"], r["kind"], catalog_date(r, "since", ACTORS_CSV, True),
                         catalog_date(r, "until", ACTORS_CSV), _pools(r["pools"], key), r["price_basis"],
                         r["budget_basis"], catalog_date(r, "flagship_from", ACTORS_CSV), r["source"],
                         r.get("sites_from", ""), r.get("supply_share", "")))
    return tuple(out)


def actors() -> dict[str, Actor]:
    """Every actor by key."""
    return {a.key: a for a in all_actors()}


def actors_at(at: date, only: tuple[str, ...] | None = None) -> list[Actor]:
    """The actors training at `at` (those of `only` when given)."""
    return [a for a in all_actors() if a.active(at) and (only is None or a.key in only)]
