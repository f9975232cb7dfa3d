"""Teaching views (`simulator explain`) and the HTML report (`simulator report`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pandas as pd
import pytest
from cli_helpers import one_line, run

from simulator.report.explain import FAMILIES


@pytest.fixture(scope="module")
def explained(tmp_path_factory):
    import os

    from simulator.cli import main

    where = tmp_path_factory.mktemp("explain")
    here = os.getcwd()
    os.chdir(where)
    try:
        assert main(["explain", "--no-frontier", "--json"]) == 0
    finally:
        os.chdir(here)
    return next((where / "outputs" / "explain").iterdir())


def test_explain_writes_the_teaching_figures(explained):
    names = {p.name for p in explained.iterdir()}
    assert {"gantt.png", "breakdown.png", "memory.png", "scaling.png", "scaling.csv", "step.json"} <= names
    step = json.loads((explained / "step.json").read_text())
    assert step["feasible"] and step["step_time_s"] > 0


def test_scaling_families_nest(explained):
    """3D layouts include tensor+data ones, which include data-parallel ones: never worse."""
    t = pd.read_csv(explained / "scaling.csv")
    assert set(t.family) == set(FAMILIES)
    wide = t.pivot(index="devices", columns="family", values="mfu")
    dp, td, full = (wide[f] for f in FAMILIES)
    for a, b in ((dp, td), (td, full)):
        both = a.notna() & b.notna()
        assert (b[both] >= a[both] - 1e-9).all()
        assert not (a.notna() & b.isna()).any()  # whatever fits in the smaller family fits in the larger


def test_report_is_self_contained_with_every_figure(capsys, explained):
    code, text, _ = run(capsys, "report", str(explained))
    assert code == 0
    page = (explained / "report.html").read_text()
    pngs = list(explained.glob("*.png"))
    assert page.count("<img ") == len(pngs) == len(re.findall(r"src='data:image/png;base64,", page))
    assert "http://" not in page and "https://" not in page
    assert "scaling.csv" in page and "<table" in page
    code, _, err = run(capsys, "report", str(explained))
    assert code == 2 and "file exists" in one_line(err)


def test_report_of_a_non_run_folder_is_one_line(capsys, tmp_path):
    code, _, err = run(capsys, "report", str(tmp_path))
    assert code == 2 and "no figures or tables" in one_line(err)


CHROMIUM = next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome", "chrome",
                                            "headless_shell") if shutil.which(b)), None)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed here; the report opens in it "
                    "where it is (install chromium to run this test)")
def test_report_opens_in_headless_chromium(capsys, explained):
    page = explained / "report.html"
    if not page.exists():
        run(capsys, "report", str(explained))
    proc = subprocess.run([CHROMIUM, "--headless", "--disable-gpu", "--no-sandbox", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("<img") == len(list(explained.glob("*.png")))
