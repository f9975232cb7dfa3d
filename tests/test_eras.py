"""Tests of the era tables (techniques, pre-GPU computers, prices) and simulator.catalog.eras."""

from __future__ import annotations

import csv
import inspect
import io
import math
from datetime import date, timedelta
from importlib.resources import files
from pathlib import Path

import pytest

from simulator.catalog import eras
from simulator.catalog.hardware import accelerators
from simulator.catalog.techniques import techniques, techniques_known
from simulator.core.specs import Precision

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
NEW_CSVS = ("techniques.csv", "pre_gpu_computers.csv", "prices.csv")


def _csv(name: str) -> list[dict[str, str]]:
    text = files("simulator.catalog").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(text)))


# ------------------------------------------------------------------ data files
@pytest.mark.parametrize("name", NEW_CSVS)
def test_every_row_has_a_source(name):
    rows = _csv(name)
    assert rows
    assert all(r["source"].strip() for r in rows)


@pytest.mark.parametrize("name", ("techniques.csv", "pre_gpu_computers.csv"))
def test_every_row_says_how_it_was_verified(name):
    assert all(r["verification"].strip() for r in _csv(name))


def test_pre_gpu_list_is_short_and_dated_before_the_catalog():
    rows = _csv("pre_gpu_computers.csv")
    assert 8 <= len(rows) <= 20
    first_gpu = accelerators()["gtx580"].release_date
    assert all(c.release_date < first_gpu for c in eras.pre_gpu_computers().values())


def test_price_rows_name_catalog_accelerators():
    keys = set(accelerators())
    assert {r["accelerator_key"] for r in _csv("prices.csv")} <= keys


@pytest.mark.skipif(not (SHARED / "hardware_prices.csv").exists(), reason="reference data not present")
def test_price_rows_are_copied_unchanged_from_epoch():
    with open(SHARED / "hardware_prices.csv", encoding="utf-8") as f:
        reference = list(csv.DictReader(f))
    columns = list(reference[0])
    epoch = {tuple(r[c] for c in columns) for r in reference}
    for row in _csv("prices.csv"):
        assert tuple(row[c] for c in columns) in epoch


def test_loaders_read_nothing_outside_the_package():
    source = inspect.getsource(eras)
    assert "/work/" not in source and "../" not in source and "open(" not in source
    assert 'files("simulator.catalog")' in source


# ------------------------------------------------------------------ techniques
def test_techniques_known_when_alexnet_ran():
    known = {t.key for t in techniques_known(date(2012, 9, 30))}
    assert "single_device" in known
    assert not known & {"large_batch", "pipeline_parallel", "tensor_parallel", "sharded_data_parallel",
                         "sync_data_parallel_multi_node", "parallel_search_selfplay"} - {"large_batch"}
    # AlexNet's split is its own evidence (the run, 2012-09-30): known from that day, not a day before;
    # withheld (when AlexNet is scored), the next evidence dates it (Coates et al., 2013-06-17)
    split = techniques()["intra_machine_split"]
    assert split.available() == date(2012, 9, 30) and split.first_use().run_fact_of == {"alexnet"}
    assert "intra_machine_split" in known
    assert "intra_machine_split" not in {t.key for t in techniques_known(date(2012, 9, 29))}
    assert split.available(frozenset({"alexnet"})) == date(2013, 6, 17)
    assert "intra_machine_split" not in {t.key for t in techniques_known(date(2012, 9, 30), frozenset({"alexnet"}))}


def test_an_actor_uses_its_own_evidence_at_once_and_others_after_the_lag():
    t = techniques()["async_data_parallel"]  # first shown by Google (Le et al., 2011-12-29)
    assert t.available(lag_days=100, actor="google") == date(2011, 12, 29)
    assert t.available(lag_days=100, actor="baidu") == date(2011, 12, 29) + timedelta(days=100)
    assert t.available(lag_days=0, actor="baidu") == t.available()
    with_lag = {k.key for k in techniques_known(date(2012, 3, 1), lag_days=365, actor="meta")}
    assert "async_data_parallel" not in with_lag
    assert "async_data_parallel" in {k.key for k in techniques_known(date(2012, 3, 1), lag_days=365, actor="google")}


def test_known_techniques_are_ordered_and_all_known_by_2024():
    known = techniques_known(date(2020, 6, 1))
    assert "sharded_data_parallel" in {t.key for t in known}
    assert [t.available() for t in known] == sorted(t.available() for t in known)
    later = {"interleaved_pipeline", "selective_recompute_sequence_parallel", "flash_attention", "context_parallel"}
    assert not {t.key for t in known} & later
    assert {t.key for t in techniques_known(date(2024, 6, 1))} == set(techniques())


def test_every_technique_has_dated_evidence_with_a_source():
    t = techniques()
    assert t["large_batch"].uses[0].at <= date(2017, 6, 8)  # Goyal et al. 2017 is among the evidence
    assert any(u.at == date(2017, 6, 8) and u.run_fact_of == {"goyal2017"} for u in t["large_batch"].uses)
    assert t["pipeline_parallel"].published == date(2018, 6, 8)  # PipeDream, before GPipe (2018-11-16)
    assert t["tensor_parallel"].available() == date(2018, 11, 5)  # Mesh-TensorFlow, before Megatron-LM
    assert t["sharded_data_parallel"].published == date(2019, 10, 4)
    assert all(u.source for x in t.values() for u in x.uses)



# ------------------------------------------------------------------ devices
def test_devices_available_when_alexnet_ran():
    names = {a.name for a in eras.devices_available(date(2012, 9, 30))}
    assert "NVIDIA GeForce GTX 580" in names
    later = {a.name for a in accelerators().values() if a.release_date >= date(2012, 11, 12)}
    assert "NVIDIA Tesla K20X" in later
    assert not names & later


def test_devices_available_in_1960_is_a_pre_gpu_computer():
    found = eras.devices_available(date(1960, 1, 1))
    assert found
    assert all(a.kind == "computer" for a in found)
    assert "IBM 704" in {a.name for a in found}
    ibm = eras.pre_gpu_computers()["ibm-704"]
    assert ibm.peak(Precision.FP32) == 12_000
    assert math.isnan(ibm.memory_bytes)
    assert eras.devices_available(date(1950, 1, 1)) == []


def test_every_available_device_has_a_peak():
    for day in (date(1970, 1, 1), date(2009, 1, 1), date(2016, 1, 1), date(2025, 1, 1)):
        assert all(a.peak_flops_per_s for a in eras.devices_available(day))
    assert "Google TPU v1" not in {a.name for a in eras.devices_available(date(2025, 1, 1))}  # no peak


# ------------------------------------------------------------------ precision
def test_precision_of_era():
    assert eras.precision_of_era(date(1960, 1, 1)) is Precision.FP32
    assert eras.precision_of_era(date(2017, 10, 9)) is Precision.FP32
    assert eras.precision_of_era(date(2017, 10, 10)) is Precision.FP16
    assert eras.precision_of_era(date(2022, 1, 1)) is Precision.BF16
    assert eras.precision_of_era(date(2025, 1, 1)) is Precision.FP8
    assert all(src for _, _, src in eras.PRECISION_ERAS)


def test_a_device_runs_the_newest_precision_it_has():
    from simulator.catalog.hardware import accelerators

    at = date(2025, 6, 1)
    assert eras.precision_for(accelerators()["h100-sxm"], at) is Precision.FP8
    assert eras.precision_for(accelerators()["a100-80gb"], at) is Precision.BF16  # no FP8 peak
    assert eras.precision_for(accelerators()["v100-16gb"], date(2018, 1, 1)) is Precision.FP16
    assert eras.precision_for(accelerators()["gtx580"], at) is Precision.FP32


# ------------------------------------------------------------------ prices
def test_cloud_price_is_the_latest_at_or_before_the_date():
    price = eras.price_per_device_hour("k80", date(2017, 6, 1))
    assert price.usd_per_hour == 0.9
    assert "cloud" in price.method and "Amazon Web Services" in price.method and price.source
    google = eras.price_per_device_hour("k80", date(2017, 6, 1), vendor="Google Cloud")
    assert google.usd_per_hour == 1.4


def test_amortised_price_equals_a_hand_computation():
    at = date(2012, 9, 30)
    price = eras.price_per_device_hour("gtx580", at, lifetime_years=3.0, utilization=0.5, pue=1.1,
                                       power_usd_per_kwh=0.1)
    # Epoch's table: $499 on 2010-11-09, 'Single-unit release price' -> server overhead 1.64;
    # acquired no earlier than release + 90 days (2011-02-07); depreciation 0.14 OOM per year
    years = (at - date(2011, 2, 7)).days / 365.25
    value = 499 * 1.64 * 10 ** (-0.14 * years)
    hardware = value / (1 - 0.19) / (3.0 * 24 * 365.25 * 0.5)
    energy = 0.244 * (1.8 * 0.75) * 1.1 * 0.1
    assert price.usd_per_hour == pytest.approx(hardware + energy, rel=1e-12)
    assert "amortised" in price.method and price.source


def test_default_amortisation_uses_epochs_constants():
    assert eras.EPOCH_LIFETIME_YEARS == pytest.approx(1 / (0.14 * math.log(10)))
    default = eras.price_per_device_hour("gtx580", date(2012, 9, 30))
    explicit = eras.price_per_device_hour("gtx580", date(2012, 9, 30), lifetime_years=eras.EPOCH_LIFETIME_YEARS,
                                          utilization=1.0, pue=1.25, power_usd_per_kwh=0.0667)
    assert default.usd_per_hour == pytest.approx(explicit.usd_per_hour)
    assert default.usd_per_hour > 0


def test_pre_gpu_computer_price_is_whole_machine():
    at = date(1966, 1, 1)
    price = eras.price_per_device_hour("cdc-6600", at, power_usd_per_kwh=0.01)
    years = (at - date(1964, 9, 1)).days / 365.25
    hardware = 2_370_000 * 10 ** (-0.14 * years) / (eras.EPOCH_LIFETIME_YEARS * 24 * 365.25)
    assert price.usd_per_hour == pytest.approx(hardware + 30.0 * 1.25 * 0.01)
    with pytest.raises(eras.NoPriceError, match="electricity"):
        eras.price_per_device_hour("cdc-6600", at)
    assert eras.price_per_device_hour("cdc-6600", at, energy=False).usd_per_hour == pytest.approx(hardware)


@pytest.mark.parametrize("key, at", [("k40", date(2014, 6, 1)), ("v100-32gb", date(2019, 6, 1)),
                                     ("a100-80gb", date(2021, 6, 1)), ("h100-sxm", date(2023, 1, 1)),
                                     ("tpu-v3", date(2019, 1, 1))])
def test_prices_across_eras_are_positive(key, at):
    price = eras.price_per_device_hour(key, at)
    assert price.usd_per_hour > 0 and price.method and price.source


def test_no_price_is_an_explicit_error():
    with pytest.raises(eras.NoPriceError, match="released"):
        eras.price_per_device_hour("k20x", date(2012, 9, 30))
    with pytest.raises(eras.NoPriceError, match="no cloud or purchase"):
        eras.price_per_device_hour("m40", date(2016, 1, 1))
    with pytest.raises(KeyError, match="unknown device"):
        eras.price_per_device_hour("gtx9999", date(2016, 1, 1))
    with pytest.raises(ValueError, match="commitment"):
        eras.price_per_device_hour("k80", date(2018, 1, 1), commitment="5yr")
