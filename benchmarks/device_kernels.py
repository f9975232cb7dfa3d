"""Measure one GPU's kernel rates, as rows of simulator/catalog/kernel_benchmarks.csv.

Run it on a machine with a CUDA GPU and PyTorch (not a dependency of the package):

    python benchmarks/device_kernels.py --device h100-sxm --out rows.csv [--quick]

It times, with CUDA events after warm-up (median of the repeats):
- matmul: torch.matmul of (m x k) @ (k x n) over a sweep of square and skinny shapes, BF16
  (FP8 is not measured yet); the best shape is the row the catalog keeps (as Bekman's MAMF
  table does), the sweep goes to `--sweep` for the record;
- fused attention: torch.nn.functional.scaled_dot_product_attention, causal, head dim 128,
  batch x sequence = 16k tokens and 16 heads (the FlashAttention-3 paper's setup), at 512 to
  16k tokens, forward and backward, with each SDPA backend the build offers (flash:
  FlashAttention-2; cudnn: cuDNN fused attention). FLOPs are counted as FlashAttention's
  benchmarks count them: 4 b s^2 h d / 2 for a causal forward, 2.5x that backward
  (`attention_flops`).

Each row names the device, the library versions and the date in its `software` and `source`
columns, so a row added to the catalog carries where it came from. Without PyTorch or a GPU
the script says so in one line and exits 2 before any work. The row formatting and the FLOP
counts are tested on any machine (tests/test_device_kernels.py).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import statistics
import sys
from pathlib import Path

COLUMNS = ("key", "device", "precision", "kernel", "achieved_tflops", "peak_tflops", "best_shape_mnk", "seq_len",
           "software", "source_row", "source", "verification", "notes")
LENGTHS = (512, 1024, 2048, 4096, 8192, 16384)
TOKENS, HEADS, HEAD_DIM = 16384, 16, 128  # batch x sequence, heads, head dim (FlashAttention-3's benchmark)
SHAPES = tuple((m, n, k) for m in (1024, 2048, 4096, 8192) for n in (1024, 4096, 8192, 16384) for k in (1024, 4096, 8192))
BACKENDS = {"flash": "flash-attention-2", "cudnn": "cudnn-attention"}


def attention_flops(batch: int, seq: int, heads: int, head_dim: int, causal: bool = True, backward: bool = False) -> float:
    """FLOPs of one attention call as FlashAttention's benchmark_flash_attention.py counts them:
    4 b s^2 h d, halved when causal; the backward 2.5x the forward."""
    f = 4 * batch * seq * seq * heads * head_dim / (2 if causal else 1)
    return 2.5 * f if backward else f


def matmul_flops(m: int, n: int, k: int) -> float:
    """2 m n k."""
    return 2.0 * m * n * k


def row(device: str, precision: str, kernel: str, tflops: float, peak_tflops: float, software: str, gpu_name: str,
        when: dt.date, shape: str = "", seq_len: int | None = None) -> dict[str, str]:
    """One kernel_benchmarks.csv row of this script's measurement."""
    suffix = f".{seq_len}" if seq_len else ""
    return {
        "key": f"{device}.{precision}.{kernel}{suffix}", "device": device, "precision": precision, "kernel": kernel,
        "achieved_tflops": f"{tflops:.1f}", "peak_tflops": f"{peak_tflops:g}", "best_shape_mnk": shape,
        "seq_len": str(seq_len) if seq_len else "", "software": software, "source_row": gpu_name,
        "source": f"measured by this project's benchmarks/device_kernels.py on one {gpu_name} on {when.isoformat()} "
                  f"({software}); CUDA-event timing, median of the repeats after warm-up",
        "verification": "measured (this project)", "notes": "",
    }


def write_rows(rows: list[dict[str, str]], path: Path) -> None:
    """The rows as CSV in the catalog's column order."""
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=COLUMNS, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)


def _timed(torch, fn, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` runs after three warm-ups (CUDA events)."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return statistics.median(times)


def _matmul(torch, shapes, repeats: int) -> list[tuple[tuple[int, int, int], float]]:
    out = []
    for m, n, k in shapes:
        a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16)
        b = torch.randn(k, n, device="cuda", dtype=torch.bfloat16)
        out.append(((m, n, k), matmul_flops(m, n, k) / _timed(torch, lambda a=a, b=b: a @ b, repeats)))
    return out


def _attention(torch, backend: str, seq: int, repeats: int) -> tuple[float, float] | None:
    """(forward, backward) FLOP/s of causal SDPA on `backend`, or None where it cannot run."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.nn.functional import scaled_dot_product_attention as sdpa

    which = {"flash": SDPBackend.FLASH_ATTENTION, "cudnn": SDPBackend.CUDNN_ATTENTION}[backend]
    batch = max(TOKENS // seq, 1)
    q, k, v = (torch.randn(batch, HEADS, seq, HEAD_DIM, device="cuda", dtype=torch.bfloat16, requires_grad=True)
               for _ in range(3))
    try:
        with sdpa_kernel([which]):
            fwd = _timed(torch, lambda: sdpa(q, k, v, is_causal=True), repeats)
            out = sdpa(q, k, v, is_causal=True)
            grad = torch.randn_like(out)
            bwd = _timed(torch, lambda: torch.autograd.grad(out, (q, k, v), grad, retain_graph=True), repeats)
    except RuntimeError:  # the backend does not run this shape on this build
        return None
    return (attention_flops(batch, seq, HEADS, HEAD_DIM) / fwd,
            attention_flops(batch, seq, HEADS, HEAD_DIM, backward=True) / bwd)


def measure(device: str, quick: bool, sweep: Path | None) -> list[dict[str, str]]:
    """Every row this GPU gives (module doc)."""
    import torch

    from simulator.catalog.hardware import find_accelerator
    from simulator.core.specs import Precision

    acc = find_accelerator(device)
    peak = acc.peak(Precision.BF16) / 1e12
    gpu = torch.cuda.get_device_name(0)
    software = f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}"
    when, repeats = dt.date.today(), 5 if quick else 20
    shapes = SHAPES[::7] if quick else SHAPES
    timed = _matmul(torch, shapes, repeats)
    if sweep is not None:
        with sweep.open("w", encoding="utf-8") as f:
            f.write("m,n,k,tflops\n" + "".join(f"{m},{n},{k},{r / 1e12:.1f}\n" for (m, n, k), r in timed))
    (m, n, k), best = max(timed, key=lambda t: t[1])
    rows = [row(device, "bf16", "matmul", best / 1e12, peak, software, gpu, when, f"{m}x{n}x{k}")]
    for backend, kernel in BACKENDS.items():
        for seq in LENGTHS[::2] if quick else LENGTHS:
            rates = _attention(torch, backend, seq, repeats)
            if rates is not None:
                rows += [row(device, "bf16", f"{kernel}.{d}", r / 1e12, peak, software, gpu, when, seq_len=seq)
                         for d, r in zip(("forward", "backward"), rates, strict=True)]
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", required=True, help="the catalog key of the GPU (simulator catalog accelerators)")
    p.add_argument("--out", type=Path, required=True, help="CSV of kernel_benchmarks.csv rows to write (new file)")
    p.add_argument("--sweep", type=Path, help="also write every matmul shape's rate here")
    p.add_argument("--quick", action="store_true", help="fewer shapes, lengths and repeats (about a minute)")
    args = p.parse_args(argv)
    from simulator.catalog.hardware import find_accelerator

    try:
        find_accelerator(args.device)
    except (KeyError, ValueError) as exc:
        print(f"error: --device {args.device!r}: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    for path in (args.out, args.sweep):
        if path is not None and (path.exists() or not path.parent.is_dir()):
            print(f"error: {path}: exists or its folder does not (results are never overwritten)", file=sys.stderr)
            return 2
    try:
        import torch
    except ImportError:
        print("error: PyTorch is not installed: this script measures a GPU with it (pip install torch)", file=sys.stderr)
        return 2
    if not torch.cuda.is_available():
        print("error: no CUDA GPU is visible: nothing to measure", file=sys.stderr)
        return 2
    rows = measure(args.device, args.quick, args.sweep)
    write_rows(rows, args.out)
    print(f"{len(rows)} rows written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
