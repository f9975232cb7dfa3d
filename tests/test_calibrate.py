"""`simulator validate --loo`: the fit and leave-one-source-out of simulator/measure/calibrate.py
from the command line (the fit itself runs in scripts/docs.py --only loo: minutes)."""

from __future__ import annotations

import json
import sys

from cli_helpers import one_line, run

from simulator.measure.calibrate import source_of

FAKE = {"base": (0.75, 0.99, 1.7), "by_device": [("NVIDIA H100 SXM5 80GB", "fp8", 0.55)],
        "groups": [{"device": "NVIDIA A100 SXM4 80GB", "precision": "fp16", "rows": 30, "in_mean": 0.03,
                    "in_max": 0.115, "loo_mean": 0.05, "loo_max": 0.168, "gemm": 0.757, "own": False},
                   {"device": "NVIDIA H100 SXM5 80GB", "precision": "fp8", "rows": 21, "in_mean": 0.18,
                    "in_max": 1.6, "loo_mean": 0.18, "loo_max": 1.6, "gemm": 0.55, "own": True}],
        "sources": {"Narayanan et al. 2021": (22, 0.051), "NEMO2407": (12, 0.048)},
        "all": {"rows": 51, "in_mean": 0.093, "in_max": 1.6, "loo_mean": 0.107, "loo_max": 1.6}}


def test_without_scipy_loo_is_one_line_and_exit_2(capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # import scipy raises ImportError
    code, _, err = run(capsys, "validate", "--loo")
    assert code == 2
    assert "needs scipy" in one_line(err) and "--loo" in err


def test_loo_prints_each_device_each_source_and_the_summary(capsys, monkeypatch):
    import simulator.measure.calibrate as cal

    seen = {}

    def fake(path, loo=False, say=print, workers=2):
        seen.update(path=path, loo=loo)
        return FAKE

    monkeypatch.setattr(cal, "fit", fake)
    code, out, _ = run(capsys, "validate", "--loo")
    assert code == 0 and seen["loo"] is True and seen["path"].endswith("calibration.csv")
    assert "held out Narayanan et al. 2021 (22 rows): mean |error| 5.1%" in out
    assert "leave-one-source-out mean 10.70%" in out and "0.550" in out and "0.757" in out
    code, out, _ = run(capsys, "validate", "--loo", "--json")
    assert code == 0 and json.loads(out)["loo"]["all"]["loo_mean"] == 0.107


def test_a_bad_measurements_file_is_refused_before_the_fit(capsys, tmp_path):
    bad = tmp_path / "m.csv"
    bad.write_text("id,hardware\n", encoding="utf-8")
    code, _, err = run(capsys, "validate", "--loo", "--measurements", str(bad))
    assert code == 2 and "m.csv" in one_line(err)


def test_rows_are_grouped_by_their_source():
    class Row:
        def __init__(self, row_id):
            self.row_id = row_id

    assert source_of(Row("N21-T1-3")) == "Narayanan et al. 2021"
    assert source_of(Row("K22-T5-22B-full")) == "Korthikanti et al. 2022"
    assert source_of(Row("NEMO2509-LLAMA3-70B")) == "NEMO2509"
