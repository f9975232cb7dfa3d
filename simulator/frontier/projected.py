"""A projected year's market: what an actor can pay for, get and wait for at a future date.

The projection runs the same solver as the history (frontier/solver.py) on markets built
here from the start run's market (the history at the start date) and one sample's growth
rates (`Rates`, drawn in trend/project.py from catalog/projection_parameters.csv):

- the device: the best announced chip available by the date (catalog/roadmap.csv, NVIDIA
  and AMD keynotes), then the last one carried forward by the drawn trend rates (FLOP/s,
  memory capacity and bandwidth, scale-up bandwidth; the scale-up domain is held: no
  source gives its growth). BF16 peak where only FP8 is announced: FP8 / 2, the ratio of
  every NVIDIA chip in the catalog since the H100. Its price per device-hour keeps the
  start device's price per FLOP/s, falling at the price-performance trend (Epoch AI,
  0.14 OOM a year); its power is the announced TDP, else the start device's power per
  FLOP/s falling at the FLOP-per-watt trend, at Epoch's server factor and PUE;
- budget: the start run's budget growing at the drawn spending growth, capped at a share
  of GDP (Cottier et al.); where the start actor's budget is not documented, the cap alone;
- site power: from the start's largest site to the drawn 2030 campus power (log-linear,
  held after 2030; a site's power never falls); the sites a run may span: the scenario's
  max_sites, at most the drawn 2030 distributed power / one site's power, joined by the
  scenario's site link or the drawn one (Sevilla et al.: 4-20 Pb/s between data-centre
  pairs by 2030; 1,000 km, the distance of Nemotron-4's two-site run);
- chips: the drawn share of the world's AI chips (H100-equivalents: end-2023 stock plus
  production growing yearly) that one run gets, in devices of the year's chip;
- run length: the economic optimum of the sample's own rates (Sevilla et al. 2022's
  L = 1 / (g_H + g_S + g_I): price-performance, algorithmic progress and spending growth
  as drawn here; frontier/duration.py applies the same rule to the history);
- site power starts at the start actor's largest site, or the power of the start run's
  devices where the actor's sites are known by their device counts.

A scenario's fixed values (site_power_w, max_devices, max_duration_days, host_devices,
power_cap_w) hold in projected years too, and the 2x relaxations act on them as in the
history, so every projected year has its binding constraints.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, replace
from datetime import date
from functools import cache
from importlib.resources import files

from simulator.catalog.supply import generic_facility_watts
from simulator.core.specs import Accelerator, Link, Precision
from simulator.core.units import FIBRE_S_PER_KM, GB
from simulator.frontier.config import FrontierConfig
from simulator.frontier.market import Caps, Offer, site_link_of

ROADMAP_CSV = "roadmap.csv"
H100_FP8 = 1978.9e12  # dense FP8 of accelerators.csv h100-sxm: the unit of "H100-equivalents"
FP8_PER_BF16 = 2.0  # H100 1979/989, B200 4500/2250, GB200 5000/2500 (accelerators.csv)
POWER_YEAR = date(2030, 1, 1)  # Sevilla et al.'s site powers are for 2030
DAYS_PER_YEAR = 365.25


def years_between(a: date, b: date) -> float:
    return (b - a).days / DAYS_PER_YEAR


@dataclass(frozen=True)
class Rates:
    """One sample's projected inputs (growth factors per year unless said)."""

    spend_growth: float
    flops_growth: float  # FLOP/s per chip after the roadmap
    memory_growth: float
    memory_bandwidth_growth: float
    link_growth: float  # scale-up and scale-out bandwidth
    flops_per_watt_growth: float
    price_performance_ooms: float  # orders of magnitude of FLOP/s per dollar a year
    campus_power_2030_w: float
    distributed_power_2030_w: float
    stock_end_2023: float  # H100-equivalents
    production_2024: float  # H100-equivalents a year
    production_growth: float
    supply_share: float  # share of the chips one run gets
    budget_cap_usd: float
    site_link_bytes_per_s: float  # between two sites, per site and direction
    site_distance_km: float
    hardware_stratum: int = 0  # which quantile stratum the hardware rates come from (names the device)
    run_length_days: float = 0.0  # the economic optimum of this sample's rates (0: the start run's length)


@dataclass(frozen=True)
class Chip:
    """An announced accelerator (catalog/roadmap.csv), per package."""

    key: str
    name: str
    available: date
    fp8_flops: float | None
    bf16_flops: float | None
    memory_bytes: float | None
    memory_bandwidth: float | None
    scale_up_bandwidth: float | None  # per direction
    domain: int | None
    tdp_w: float | None
    source: str

    @property
    def usable(self) -> bool:
        """Announced with the numbers the step model needs."""
        return None not in (self.fp8_flops, self.memory_bytes, self.memory_bandwidth, self.scale_up_bandwidth,
                            self.domain)


def parse_roadmap(text: str, name: str = ROADMAP_CSV) -> tuple[Chip, ...]:
    out = []
    for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        def num(col, scale=1.0, r=r, i=i):
            v = (r.get(col) or "").strip()
            if not v:
                return None
            try:
                x = float(v)
            except ValueError:
                x = math.nan
            if not (math.isfinite(x) and x > 0):
                raise ValueError(f"{name}: line {i} ({r.get('key')!r}): column {col!r}: not a number > 0: {v!r}")
            return x * scale

        if not (r.get("source") or "").strip():
            raise ValueError(f"{name}: line {i} ({r.get('key')!r}): column 'source': empty")
        try:
            available = date.fromisoformat(r["available"].strip())
        except (ValueError, AttributeError):
            raise ValueError(f"{name}: line {i} ({r.get('key')!r}): column 'available': not an ISO date: "
                             f"{r.get('available')!r}") from None
        domain = num("scale_up_domain")
        out.append(Chip(r["key"], r["name"], available, num("fp8_tflops", 1e12), num("bf16_tflops", 1e12),
                        num("memory_gb", GB), num("memory_bw_gb_s", GB), num("scale_up_gb_s_per_direction", GB),
                        None if domain is None else int(domain), num("tdp_w"), r["source"]))
    return tuple(sorted(out, key=lambda c: c.available))


@cache
def roadmap() -> tuple[Chip, ...]:
    return parse_roadmap(files("simulator.catalog").joinpath(ROADMAP_CSV).read_text(encoding="utf-8"))


class ProjectedMarket:
    """The market of one sample at dates after the start (callable like market_at)."""

    def __init__(self, start_at: date, caps: Caps, offer: Offer, base: FrontierConfig, rates: Rates,
                 start_power_w: float | None = None):
        self.start_at, self.caps0, self.offer0, self.base, self.r = start_at, caps, offer, base, rates
        self.power0 = caps.site_power_w or start_power_w
        acc = offer.acc
        self.peak0 = acc.peak(Precision.FP8) or acc.peak(Precision.BF16)
        self.usd_per_flops = offer.price / self.peak0  # USD per device-hour per FLOP/s
        self.watts_per_flops = (acc.tdp_w or 0) / self.peak0
        chips = [c for c in roadmap() if c.usable and c.available > start_at and c.fp8_flops > self.peak0]
        self.chips = tuple(chips)
        self._devices: dict[date, tuple[Accelerator, Link, Link, int]] = {}

    # ------------------------------------------------------------------ the device
    def device_at(self, at: date) -> tuple[Accelerator, Link | None, Link | None, int]:
        """(device, scale-up link, scale-out link, scale-up domain) on offer at `at`."""
        if at not in self._devices:
            self._devices[at] = self._device(at)
        return self._devices[at]

    def _device(self, at: date):
        o, r = self.offer0, self.r
        t = years_between(self.start_at, at)
        out = [c for c in self.chips if c.available <= at]
        if out:
            chip = max(out, key=lambda c: c.fp8_flops)
            dt = years_between(chip.available, at) if chip is self.chips[-1] else 0.0
            fp8, since = chip.fp8_flops, chip.available
            mem, bw, up, domain = chip.memory_bytes, chip.memory_bandwidth, chip.scale_up_bandwidth, chip.domain
            tdp = chip.tdp_w or self.watts_per_flops * fp8 / r.flops_per_watt_growth ** years_between(
                self.start_at, chip.available)
            name = chip.name
        else:  # the start device until an announced chip beats it
            acc = o.acc
            fp8, since, dt = self.peak0, self.start_at, 0.0
            mem, bw, domain = acc.memory_bytes, acc.memory_bandwidth_bytes_per_s, o.node_default or 1
            up = o.intra.bandwidth_bytes_per_s if o.intra is not None else acc.scale_up_bandwidth_bytes_per_s
            tdp, name = acc.tdp_w, acc.name
        if dt > 0:  # past the roadmap: the drawn trends
            fp8 *= r.flops_growth ** dt
            mem, bw, up = mem * r.memory_growth ** dt, bw * r.memory_bandwidth_growth ** dt, up * r.link_growth ** dt
            tdp *= (r.flops_growth / r.flops_per_watt_growth) ** dt
            name = f"{name} trend {at.year} h{r.hardware_stratum}"
        peaks = {Precision.FP8: fp8, Precision.BF16: fp8 / FP8_PER_BF16}
        acc = Accelerator(name, "projected", "accelerator (projected)", since, peaks, mem, bw, up, domain, tdp,
                          None, None, "frontier/projected.py from catalog/roadmap.csv and projection_parameters.csv")
        intra = inter = None
        if o.intra is not None:
            intra = replace(o.intra, name=f"scale-up {up / GB:.0f} GB/s", bandwidth_bytes_per_s=up)
        if o.inter is not None:
            grown = o.inter.bandwidth_bytes_per_s * r.link_growth ** t
            inter = replace(o.inter, name=f"scale-out {grown / GB:.0f} GB/s", bandwidth_bytes_per_s=grown)
        return acc, intra, inter, domain

    # ------------------------------------------------------------------ the caps
    def site_power_w(self, at: date) -> float:
        return self._power_toward(self.r.campus_power_2030_w, at)

    def distributed_power_w(self, at: date) -> float:
        return self._power_toward(self.r.distributed_power_2030_w, at)

    def _power_toward(self, power_2030_w: float, at: date) -> float:
        """From the start's largest site to `power_2030_w` in 2030, log-linearly, held after;
        never below the start's."""
        p0 = self.power0
        share = min(max(years_between(self.start_at, at) / max(years_between(self.start_at, POWER_YEAR), 1e-9),
                        0.0), 1.0)
        return max(p0, p0 * (power_2030_w / p0) ** share)

    def stock_h100e(self, at: date) -> float:
        r = self.r
        y = max(years_between(date(2024, 1, 1), at), 0.0)
        made = r.production_2024 * (r.production_growth ** y - 1) / math.log(r.production_growth)
        return r.stock_end_2023 + made

    def __call__(self, at: date, config: FrontierConfig) -> tuple[Caps, list[Offer], str]:
        r, c0, b = self.r, self.caps0, self.base
        t = years_between(self.start_at, at)
        acc, intra, inter, domain = self.device_at(at)
        if config.ignore_budget:
            budget = None
        elif config.budget_usd is not None:
            budget = config.budget_usd * config.budget_scale
        elif c0.budget_usd is None:  # the start actor's budget is not documented: only the share of GDP caps it
            budget = r.budget_cap_usd * config.budget_scale / b.budget_scale
        else:
            budget = min(c0.budget_usd * r.spend_growth ** t, r.budget_cap_usd) * config.budget_scale / b.budget_scale
        days = config.max_duration_days or (r.run_length_days or c0.max_duration_days) * config.duration_scale
        site = config.site_power_w if config.site_power_w is not None else self.site_power_w(at)
        if config.power_cap_w is not None:
            site = min(site, config.power_cap_w)
        fp8 = acc.peak(Precision.FP8)
        chips = config.max_devices if config.max_devices is not None else (
            r.supply_share * self.stock_h100e(at) * H100_FP8 / fp8 * config.chip_scale / b.chip_scale)
        sites = max(1, min(int(config.max_sites), int(self.distributed_power_w(at) // site)))
        host = int(config.host_devices) if config.host_devices is not None else domain
        link = site_link_of(config) or Link(f"between sites {r.site_distance_km:g} km apart", r.site_link_bytes_per_s,
                                            r.site_distance_km * FIBRE_S_PER_KM, "projection_parameters.csv")
        caps = Caps(budget, float(days), None, host, site, None, chips, sites, link)
        price = self.usd_per_flops * fp8 / 10 ** (r.price_performance_ooms * t)
        watts = generic_facility_watts(acc.tdp_w)
        return caps, [Offer(f"projected-{at.isoformat()}", acc, price, "", intra, inter, host, watts)], ""
