"""What an actor can get at a date: the constraint values (`Caps`) and the devices on
offer with their prices, links and power (`Offer`).

The history reads both from the catalog (`market_at`: frontier_inputs.csv series, the
devices on sale, Epoch's prices); the projection builds them from drawn growth rates
(frontier/projected.py). The solver takes either, so the past and the projection size
runs, pick layouts and find binding constraints the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from functools import cache

from simulator.catalog.eras import NoPriceError, price_per_device_hour
from simulator.catalog.hardware import accelerators, default_links, links
from simulator.catalog.supply import COMPUTER_KEY, computer_price_per_hour, devices_usable, facility_watts_per_device
from simulator.frontier.config import FrontierConfig
from simulator.frontier.inputs import accepted_duration_days, async_replicas_at, site_power_at, value_at
from simulator.specs import Accelerator, Link
from simulator.units import FIBRE_S_PER_KM, GB


@dataclass(frozen=True)
class Caps:
    """The constraints at a date (None: no documented value applies)."""

    budget_usd: float | None
    max_duration_days: float
    max_devices: float | None
    host_devices: float | None
    site_power_w: float | None = None  # most power one site gives a run (None: device counts only)
    async_replicas: float | None = None  # most useful asynchronous replicas (None: not documented yet)
    chips: float | None = None  # most devices the chip supply gives one run (projection; None: not a limit)
    sites: int = 1  # most sites one run may span (data parallelism across them)
    site_link: Link | None = None  # between two sites: bandwidth per site and direction, fibre delay

    def scales(self) -> dict:
        return {"max_duration_days": self.max_duration_days, "max_devices": self.max_devices or 1.0,
                "host_devices": self.host_devices or 1.0, "site_power_w": self.site_power_w}

    def supply_devices(self, watts: float | None, sites: int = 1) -> float | None:
        """Most devices drawing `watts` each (facility power) that `sites` sites give a run:
        their power / the device's power, the largest cluster's device count where either
        is unknown; never more than the chip supply."""
        n = sites * self.site_power_w / watts if watts and self.site_power_w else self.max_devices
        return n if self.chips is None else min(n or math.inf, self.chips)


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


def site_link_of(config: FrontierConfig) -> Link | None:
    """The link between a scenario's sites (None when it names none)."""
    if config.site_link_gb_s is None:
        return None
    km = config.site_distance_km or 0.0
    return Link(f"between sites {km:g} km apart", config.site_link_gb_s * GB, km * FIBRE_S_PER_KM,
                "scenario [frontier] site_link_gb_s, site_distance_km")


def caps_at(at: date, config: FrontierConfig) -> Caps:
    """The constraint values of `config` at `at` (series from frontier_inputs.csv)."""
    if config.ignore_budget:
        budget = None
    elif config.budget_usd is not None:
        budget = config.budget_usd
    else:
        when = min(at, config.budget_frozen_at or at)
        spend = value_at("annual_spend_usd", when)
        budget = None if spend is None else (
            spend * value_at("compute_share_of_spend", when) * value_at("run_share_of_compute", when))
    days = config.max_duration_days or accepted_duration_days(at, growth_scale=config.duration_growth_scale)
    if config.max_devices is not None:  # a device count set by the scenario replaces the sites
        site = config.site_power_w
    else:
        site = config.site_power_w or site_power_at(at)
    return Caps(None if budget is None else budget * config.budget_scale, float(days),
                config.max_devices or value_at("cluster_devices", at), config.host_devices or value_at("host_devices", at),
                None if site is None else float(site), config.async_replicas or async_replicas_at(at),
                sites=int(config.max_sites) if config.site_link_gb_s else 1, site_link=site_link_of(config))


def devices_at(at: date, config: FrontierConfig) -> list[tuple[str, Accelerator]]:
    return [(k, a) for k, a in devices_usable(at) if config.devices is None or k in config.devices]


def no_device(at: date, config: FrontierConfig) -> str:
    if config.devices is None:
        return f"no device on sale at {at}"
    return (f"none of the allowed devices ({', '.join(config.devices)}) is usable at {at}: released later or "
            "no peak FLOP/s in the catalog")


@cache
def _price(key: str, at: date, prefer: str, acc=None) -> tuple[float, str]:
    """(USD per device-hour, why not) - the same for every relaxation of a date, so cached."""
    if key == COMPUTER_KEY:
        return computer_price_per_hour(acc), ""
    try:
        p = price_per_device_hour(key, at, prefer=prefer)
        return p.usd_per_hour, ""
    except NoPriceError as exc:
        return math.nan, str(exc)


def links_of(key: str, config: FrontierConfig):
    intra, inter, node_default = default_links(key) if key in accelerators() else (None, None, None)
    if key in accelerators() and (config.intra_link or config.inter_link):  # a what-if interconnect
        intra = links()[config.intra_link] if config.intra_link else intra
        inter = links()[config.inter_link] if config.inter_link else inter
    return intra, inter, node_default


def offers_at(at: date, config: FrontierConfig) -> list[Offer]:
    """The catalog's devices usable at `at` with their prices, links and power."""
    out = []
    for key, acc in devices_at(at, config):
        price, why = _price(key, at, config.price, acc if key == COMPUTER_KEY else None)
        intra, inter, node_default = links_of(key, config)
        out.append(Offer(key, acc, price, why, intra, inter, node_default, facility_watts_per_device(key)))
    return out


def market_at(at: date, config: FrontierConfig) -> tuple[Caps, list[Offer], str]:
    """(caps, offers, why there is no offer) of the history at `at`."""
    offers = offers_at(at, config)
    return caps_at(at, config), offers, "" if offers else no_device(at, config)


def node_of(node_default: int | None, intra, host: int) -> int:
    """Devices in one scale-up domain: a device's documented system on its own fabric
    (NVLink/NVSwitch server, TPU pod on ICI, GB200 rack) as documented; PCIe hosts are
    capped by the era's largest host (host_devices series, which describes GPU servers)."""
    if node_default and intra is not None and "pcie" not in intra.name.lower().replace(" ", ""):
        return node_default
    return min(node_default or host, host)
