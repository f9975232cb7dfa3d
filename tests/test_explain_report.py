"""Teaching views (`simulator explain`) and the HTML report (`simulator report`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

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
                                            "chromium-headless-shell", "headless_shell") if shutil.which(b)), None)


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


# ------------------------------------------------------------------ the report, made for people
def _reproduce_folder(root) -> Path:
    """A reproduce-like run folder: 271 quarterly dates 1959-2026 (flat first era, a few jumps), a nested summary."""
    from simulator.report.figures import pyplot

    run_dir = Path(root) / "reproduce" / "20260101T000000Z-abcdef"
    run_dir.mkdir(parents=True)
    dates = pd.date_range("1959-01-01", "2026-07-01", freq="QS")
    flop, rows = 1e10, []
    for i, d in enumerate(dates):
        if d.year in (1964, 1976, 2013, 2017) and d.month == 1:
            flop *= 30.0  # the jumps
        elif d.year >= 2012:
            flop *= 1.3
        rows.append({"date": d.strftime("%Y-%m-%d"), "feasible": i > 2, "pfs_days": flop / 8.64e19,
                     "flop": flop if i > 2 else None, "n_devices": 1 if d.year < 2012 else 1000 + i,
                     "device_name": "old" if d.year < 2012 else "new", "mfu": 0.36126282037147783,
                     "primary_binding": "duration" if d.year < 2012 else "supply", "reason": "" if i > 2 else "none",
                     **{f"extra_{k}": 1.0 for k in range(25)}})
    pd.DataFrame(rows).to_csv(run_dir / "frontier.csv", index=False)
    summary = {"scenario": "baseline", "samples": 200, "modern_doubling_months_median": 4.185839549726217,
               "modern_doubling_months_band": [4.135520209454327, 4.223074801729073],
               "modern_doubling_months_published_percentile": 0.0, "modern_doubling_months_with_facts": 4.5,
               "first_era_doubling_months_median": 35.8, "alexnet_to_alphago_zero_growth_median": 134662.12510705693,
               "published": {"modern_doubling_months": 3.43, "alexnet_to_alphago_zero_growth_of_points": 319361.27},
               "ceiling": [{"run": "NETtalk", "date": "1987-06-06", "published_flop": 28300000000.0, "under": True},
                           {"run": "AlphaGo Zero", "date": "2017-10-18", "published_flop": 3.41e23, "under": False}],
               "era_levels": {"modern": {"median_oom": -0.0213, "points": 9}},
               "sensitivity": {"modern_doubling_months": [{"input": "run_share", "effect_oom": 0.12345},
                                                          {"input": "restart_s", "effect_oom": None}]},
               "binding_by_era": {"modern": {"data": 0.583, "supply": 0.167}}}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    (run_dir / "meta.json").write_text(json.dumps({"version": "0.1.0", "argv": ["x", "reproduce"],
                                                   "time_utc": "2026-01-01T00:00:00+00:00"}))
    plt = pyplot()
    for name in ("a_extra", "frontier_binding", "reproduce"):
        fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
        ax.set_title(name)
        fig.savefig(run_dir / f"{name}.png")
        plt.close(fig)
    return run_dir


@pytest.fixture
def reproduce_page(tmp_path):
    from simulator.report.html import build_report

    run_dir = _reproduce_folder(tmp_path)
    return run_dir, build_report(run_dir)


def _text(page: str) -> str:
    """The page's visible text: no tags, no embedded images."""
    page = re.sub(r"src='data:[^']*'", "", page)
    page = re.sub(r"<style>.*?</style>", "", page, flags=re.DOTALL)
    return re.sub(r"<[^>]+>", " ", page)


def test_report_numbers_are_formatted_for_people(reproduce_page):
    """summary.json showed 15-digit floats and nested JSON strings."""
    _, page = reproduce_page
    text = _text(page)
    assert not re.search(r"\d\.\d{5,}", text), re.search(r".{40}\d\.\d{5,}.{20}", text)
    assert "{&quot;" not in page and '{"' not in text  # no raw JSON objects
    assert "4.19" in text and "[4.14, 4.22]" in text and "134,662" in text  # 3 significant figures, separators
    assert "published.modern doubling months" in text  # nested values flattened to dotted keys
    assert "NETtalk" in text  # a list of records becomes a table
    assert "binding constraint by era" in text and "58%" in text  # the CLI's key table
    assert "1 of 2 published runs" in text and "above it AlphaGo Zero (2017-10)" in text  # the ceiling
    assert "run_share 0.12" in text and "-0.0213" in text  # what moves it, the level


def test_report_shows_the_rows_that_matter(reproduce_page):
    """A reproduce report showed the first 60 frontier rows (1959-1973)."""
    _, page = reproduce_page
    section = page[page.index("<h2 id='frontier'>"):page.index("<h2 id='summary'>")]
    dates = re.findall(r"<td>(\d{4}-\d{2}-\d{2})</td>", section)
    assert 10 < len(dates) <= 60
    assert dates[-1] == "2026-07-01" and "2026-04-01" in dates  # the last rows
    assert {"1964-01-01", "1976-01-01", "2013-01-01", "2017-01-01"} <= set(dates)  # the jumps
    assert sum(d < "1974" for d in dates) <= 8  # not the flat 1959-1973 rows
    assert "1959-01-01" not in dates  # infeasible leading rows
    assert "extra_3" not in section and "more columns in the CSV" in section  # the main columns only


def test_report_figures_come_in_reading_order(reproduce_page):
    _, page = reproduce_page
    order = re.findall(r"<img alt='([^']+)'", page)
    assert order == ["reproduce", "frontier_binding", "a_extra"]
    assert page.index("Key results") < page.index("<img") < page.index("frontier.csv")


def test_report_tables_fit_the_page(reproduce_page):
    _, page = reproduce_page
    assert "max-width:1100px" in page and "overflow-x:auto" in page
    assert page.count("<table") == page.count("<div class='scroll'><table")  # every table scrolls inside the page
    assert "width=device-width" in page


def test_search_report_reads_only_the_head_of_a_large_csv(tmp_path, monkeypatch):
    """A search report read a 76 MB CSV to show 60 rows: only its first rows are read now."""
    import simulator.report.html as report

    run_dir = tmp_path / "search" / "20260101T000000Z-000001"
    run_dir.mkdir(parents=True)
    cols = ["devices", "tp", "pp", "dp", "micro_batch", "global_batch", "memory_gb", "step_time_s", "mfu",
            "tokens_per_s", "reason"]
    head = pd.DataFrame([[1024, 8, 8, 16, 1, 1536, 50.2 + i, 29.3 + i, 0.36, 1e5 - i, ""] for i in range(3000)],
                        columns=cols)
    head.to_csv(run_dir / "candidates.csv", index=False)
    with (run_dir / "candidates.csv").open("a") as f:  # a tail a full read would choke on
        f.write("this,line,has,the,wrong,number,of,fields,and,so,a,full,parse,fails\n" * 10)
    (run_dir / "meta.json").write_text(json.dumps({"evaluated": 2_500_000}))
    monkeypatch.setattr(report, "COUNT_LIMIT_BYTES", 1000)  # as if the file were 76 MB
    reads = []
    real = pd.read_csv

    def spy(*args, **kwargs):
        reads.append(kwargs.get("nrows"))
        return real(*args, **kwargs)

    monkeypatch.setattr(report.pd, "read_csv", spy)
    page = report.build_report(run_dir)
    assert reads and all(n is not None and n <= report.READ_ROWS for n in reads), reads
    text = _text(page)
    assert "best layout" in text and "2,500,000" in text and "29.3" in text
    section = page[page.index("<h2 id='candidates'>"):].split("<details>")[0]
    assert len(re.findall(r"<tr>", section)) <= 21


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed here (apt-get install "
                    "chromium-headless-shell, or chromium, to run this test)")
@pytest.mark.parametrize("width", [1280, 800])
def test_report_has_no_horizontal_overflow_in_headless_chromium(reproduce_page, tmp_path, width):
    """The page at 1280 and 800 px: a screenshot of that size, and nothing wider than the window."""
    _, page = reproduce_page
    probe = ("<script>window.addEventListener('load',()=>{const d=document.documentElement;"
             "document.body.setAttribute('data-overflow',String(d.scrollWidth>window.innerWidth));"
             "document.body.setAttribute('data-width',String(d.scrollWidth));});</script></body>")
    path = tmp_path / "probe.html"
    path.write_text(page.replace("</body>", probe), encoding="utf-8")
    flags = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={width},900", "--virtual-time-budget=5000"]
    dom = subprocess.run([*flags, "--dump-dom", path.as_uri()], capture_output=True, text=True, timeout=120,
                         check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "data-overflow=\"false\"" in dom.stdout, re.search(r"<body[^>]*>", dom.stdout)
    shot = tmp_path / "page.png"
    proc = subprocess.run([*flags, f"--screenshot={shot}", path.as_uri()], capture_output=True, text=True,
                          timeout=120, check=False, cwd=tmp_path)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    from simulator.report.figures import pyplot

    height, got_width = pyplot().imread(shot).shape[:2]
    assert (got_width, height) == (width, 900)
