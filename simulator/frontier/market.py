"""What one actor can get at a date: the constraint values (`Caps`) and the devices on
offer to it with their prices, links and power (`Offer`).

The history builds both per actor from the catalog (`ActorMarket`: the actor's budget
and sites from frontier_inputs.csv, the market's hosts and asynchronous replicas, the
devices of the actor's pools with Epoch's prices, or a price imputed from the device's
generation where none is published); the projection builds them from drawn growth rates
(frontier/projected.py). The solver takes either, so the past and the projection size
runs, pick layouts and find binding constraints the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache

from simulator.catalog.eras import HOURS_PER_YEAR, NoPriceError, price_per_device_hour
from simulator.catalog.hardware import accelerators, default_links, links
from simulator.catalog.supply import (
    COMPUTER_KEY,
    computer_price_per_hour,
    devices_usable,
    facility_watts_per_device,
    shared_computers,
    sized_computer,
)
from simulator.core.specs import Accelerator, Link
from simulator.core.units import FIBRE_S_PER_KM, GB
from simulator.frontier.actors import Actor
from simulator.frontier.config import FrontierConfig
from simulator.frontier.inputs import async_replicas_at, clusters_at, input_rows, site_power_at, value_at
from simulator.frontier.prices import imputed_price

SHARED_KEY = "shared-computer"


@dataclass(frozen=True)
class Caps:
    """The constraints at a date (None: no documented value applies)."""

    budget_usd: float | None  # per run ("run" basis) or per year of the run ("rate" basis)
    max_duration_days: float
    max_devices: float | None
    host_devices: float | None
    site_power_w: float | None = None  # most power one site gives a run (None: device counts only)
    async_replicas: float | None = None  # most useful asynchronous replicas (None: not documented yet)
    chips: float | None = None  # most devices the chip supply gives one run (projection; None: not a limit)
    sites: int = 1  # most sites one run may span (data parallelism across them)
    site_link: Link | None = None  # between two sites: bandwidth per site and direction, fibre delay
    budget_basis: str = "run"  # "run": the budget is spent on the run; "rate": per year, for as long as it runs
    actor: str = ""
    duration_rule: str = ""
    refs: tuple[str, ...] = field(default=(), compare=False)  # provenance: file:key of the rows read
    clusters: tuple[tuple[str, float], ...] = ()  # (device key or "" for any, count): the actor's clusters

    def scales(self) -> dict:
        return {"max_duration_days": self.max_duration_days, "max_devices": self.max_devices or 1.0,
                "host_devices": self.host_devices or 1.0, "site_power_w": self.site_power_w}

    def supply_devices(self, watts: float | None, sites: int = 1, key: str | None = None) -> float | None:
        """Most devices (of catalog key `key`, drawing `watts` each at the facility) the
        actor's sites give a run: a site's power / the device's power (any device can be
        installed in a site known by its power), or the largest cluster of that very device
        (a cluster is the devices it was built with; a cluster of unnamed devices counts
        for any), or the scenario's device count; never more than the chip supply."""
        by_power = sites * self.site_power_w / watts if watts and self.site_power_w else None
        by_cluster = max((n * sites for k, n in self.clusters if k in ("", key)), default=None)
        found = [x for x in (by_power, by_cluster) if x is not None]
        n = max(found) if found else self.max_devices
        return n if self.chips is None else min(n or math.inf, self.chips)

    def budget_devices(self, price_per_hour: float, hours: float) -> float | None:
        """Devices the budget pays for over a run of `hours` (None: no budget)."""
        if self.budget_usd is None:
            return None
        return self.budget_usd / (price_per_hour * (HOURS_PER_YEAR if self.budget_basis == "rate" else hours))


@dataclass(frozen=True)
class Offer:
    """A device an actor can buy or rent at a date."""

    key: str
    acc: Accelerator
    price: float  # USD per device-hour (nan: no price)
    why_no_price: str
    intra: Link | None
    inter: Link | None
    node_default: int | None  # devices in the documented system (scale-up domain)
    watts: float | None  # facility power per device (W)
    max_hours: float | None = None  # at most this many hours (time bought on a shared machine)
    paid: bool = True  # False: already paid (a machine the actor owns, hours bought): no budget limit
    price_method: str = ""


def site_link_of(config: FrontierConfig) -> Link | None:
    """The link between a scenario's sites (None when it names none)."""
    if config.site_link_gb_s is None:
        return None
    km = config.site_distance_km or 0.0
    return Link(f"between sites {km:g} km apart", config.site_link_gb_s * GB, km * FIBRE_S_PER_KM,
                "scenario [frontier] site_link_gb_s, site_distance_km")


def _budget(actor: Actor, at: date, config: FrontierConfig, rows) -> tuple[float | None, tuple[str, ...]]:
    """The actor's budget for its largest run (module doc of frontier/actors.py) and the rows read."""
    if config.ignore_budget:
        return None, ()
    if config.budget_usd is not None:
        return config.budget_usd * config.budget_scale, ()
    when = min(at, config.budget_frozen_at or at)
    spend = value_at("annual_spend_usd", when, rows, actor.key)
    if spend is None:
        if actor.kind == "research_group":  # no series: the drawn budget of a group (uncertainty.csv)
            return config.input("research_group_compute_usd_per_year") * config.input("run_share") \
                * config.budget_scale, ("uncertainty.csv:research_group_compute_usd_per_year",)
        return None, ()
    share = value_at("compute_share_of_spend", when, rows, actor.key)
    share_value = float(share) if share is not None else config.input("compute_share_of_spend")
    refs = tuple(r.ref for r in spend.rows) + (tuple(r.ref for r in share.rows) if share is not None else
                                              ("uncertainty.csv:compute_share_of_spend",))
    return spend * share_value * config.input("run_share") * config.budget_scale, refs


def caps_for(actor: Actor, at: date, days: float, config: FrontierConfig, rule: str = "") -> Caps:
    """The constraint values of `actor` for a run of `days` starting at `at`."""
    rows = input_rows(config.withhold)
    budget, refs = _budget(actor, at, config, rows)
    shift = config.input("site_date_shift_days")
    actor_share = config.input(actor.supply_share) if actor.supply_share else 1.0
    if config.max_devices is not None:  # a device count set by the scenario replaces the sites
        site, devices, clusters = config.site_power_w, config.max_devices, ()
    else:
        found = site_power_at(at, rows, actor.sites_of, shift)
        site = config.site_power_w or (None if found is None else float(found) * config.input("site_power_scale")
                                       * actor_share * config.supply_scale)
        refs += tuple(r.ref for r in found.rows) if found is not None and not config.site_power_w else ()
        clusters, cluster_refs = clusters_at(at, rows, actor.sites_of, shift)
        clusters = tuple((k, n * actor_share * config.supply_scale) for k, n in clusters)
        refs += cluster_refs
        devices = None
    host = config.host_devices or value_at("host_devices", at, rows)
    if host is not None:
        host = type(host)(float(host) * config.host_scale, host.rows) if hasattr(host, "rows") else host
    refs += tuple(r.ref for r in host.rows) if hasattr(host, "rows") else ()
    replicas = config.async_replicas or async_replicas_at(at, config.withhold)
    refs += tuple(r.ref for r in replicas.rows) if hasattr(replicas, "rows") else ()
    return Caps(budget, float(days), devices, None if host is None else float(host), site,
                None if replicas is None else float(replicas),
                sites=int(config.max_sites) if config.site_link_gb_s else 1, site_link=site_link_of(config),
                budget_basis=actor.budget_basis, actor=actor.key, duration_rule=rule, refs=refs,
                clusters=() if config.max_devices is not None else clusters)


@cache
def _price(key: str, at: date, prefer: str) -> tuple[float, str, str]:
    """(USD per device-hour, method, why not) - the same for every relaxation of a date, so cached."""
    try:
        p = price_per_device_hour(key, at, prefer=prefer)
        return p.usd_per_hour, p.method, ""
    except NoPriceError as exc:
        return math.nan, "", str(exc)


@cache
def _links(key: str, intra_link: str | None, inter_link: str | None):
    intra, inter, node_default = default_links(key) if key in accelerators() else (None, None, None)
    if key in accelerators() and (intra_link or inter_link):  # a what-if interconnect
        intra = links()[intra_link] if intra_link else intra
        inter = links()[inter_link] if inter_link else inter
    return intra, inter, node_default


def _computer_offers(at: date, caps: Caps, config: FrontierConfig) -> list[Offer]:
    """Before accelerators: the one computer a group owns, bought for the drawn machine
    price (uncertainty.csv research_machine_usd) at the best price-performance of the
    date, no larger than the largest computer of the date; and time on each shared machine
    of the date with a documented price (`supply.shared_computers`: the largest, and any
    older one that gives more FLOP/s per dollar), as many hours as the group's budget pays
    at that machine's amortised hourly price. Neither is paid from the budget again."""
    out = []
    machine = sized_computer(at, config.input("research_machine_usd"))
    if machine is not None:
        out.append(Offer(COMPUTER_KEY, machine, computer_price_per_hour(machine), "", None, None, 1, None, paid=False,
                         price_method="owned: bought at the price-performance of the date"))
    if caps.budget_usd is not None:
        for key, shared in shared_computers(at):
            hourly = computer_price_per_hour(shared)
            out.append(Offer(f"{SHARED_KEY}:{key}", shared, hourly, "", None, None, 1, None,
                             max_hours=caps.budget_usd / hourly, paid=False,
                             price_method="shared machine: hours the budget pays at its amortised price"))
    return out


def offers_for(actor: Actor, at: date, caps: Caps, config: FrontierConfig) -> list[Offer]:
    """The devices of `actor`'s pools usable at `at`, with prices (imputed where none is
    published; a renter pays the cloud markup), links and power; fastest first."""
    out = [o for o in (_computer_offers(at, caps, config) if actor.pool_open("computer", at) else [])
           if config.devices is None or o.key in config.devices]
    markup = config.input("cloud_markup") if actor.price_basis == "cloud" else 1.0
    # the device market is resolved by the month (a device shipped mid-month is on offer from the
    # next month's start; prices are those of the month's first day): the solver meets it often
    return out + list(_device_offers(actor, at.replace(day=1), config.input("volume_date_shift_days"), config.price,
                                     markup, config.devices, config.intra_link, config.inter_link))


@cache
def _device_offers(actor: Actor, month: date, shift_days: float, prefer: str, markup: float,
                   devices: tuple[str, ...] | None, intra_link: str | None, inter_link: str | None) -> tuple[Offer, ...]:
    usable = tuple(k for k, acc in devices_usable(month - timedelta(days=shift_days))
                   if actor.may_use(acc, month) and (devices is None or k in devices))
    return _marked_up(_base_offers(month, usable, prefer, intra_link, inter_link), markup)


@cache
def _base_offers(month: date, usable: tuple[str, ...], prefer: str, intra_link: str | None,
                 inter_link: str | None) -> tuple[Offer, ...]:
    out = []
    catalog = dict(devices_usable(month + timedelta(days=3660)))  # every device by key
    for key in usable:
        acc = catalog[key]
        price, method, why = _price(key, month, prefer)
        if not math.isfinite(price):
            price, method = imputed_price(key, month, prefer)
            why = "" if math.isfinite(price) else why
        intra, inter, node_default = _links(key, intra_link, inter_link)
        out.append(Offer(key, acc, price, why, intra, inter, node_default, facility_watts_per_device(key),
                         price_method=method))
    return tuple(sorted(out, key=lambda o: -max(o.acc.peak_flops_per_s.values(), default=0.0)))


@cache
def _marked_up(offers: tuple[Offer, ...], markup: float) -> tuple[Offer, ...]:
    if markup == 1.0:
        return offers
    return tuple(replace(o, price=o.price * markup, price_method=f"{o.price_method} x cloud markup (uncertainty.csv)")
                 if math.isfinite(o.price) else o for o in offers)


def no_device(at: date, config: FrontierConfig, actor: Actor) -> str:
    if config.devices is None:
        return f"{actor.key}: no device of its pools on sale at {at}"
    return (f"{actor.key}: none of the allowed devices ({', '.join(config.devices)}) is usable at {at}: released "
            "later, not in its pools or no peak FLOP/s in the catalog")


class ActorMarket:
    """The market of one actor for runs of a given length (callable like a projected market)."""

    def __init__(self, actor: Actor, days: float, rule: str = ""):
        self.actor, self.days, self.rule = actor, days, rule

    def __call__(self, at: date, config: FrontierConfig) -> tuple[Caps, list[Offer], str]:
        caps = caps_for(self.actor, at, self.days, config, self.rule)
        offers = offers_for(self.actor, at, caps, config)
        return caps, offers, "" if offers else no_device(at, config, self.actor)


def node_of(node_default: int | None, intra, host: int) -> int:
    """Devices in one scale-up domain: a device's documented system on its own fabric
    (NVLink/NVSwitch server, TPU pod on ICI, GB200 rack) as documented; PCIe hosts are
    the era's largest host (host_devices series, which describes GPU servers; a PCIe card's
    default system in accelerators.csv is one run's machine and is not read here)."""
    if node_default and intra is not None and "pcie" not in intra.name.lower().replace(" ", ""):
        return node_default
    return host
