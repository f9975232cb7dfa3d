"""Batch size against compute: the critical batch and the waste past it.

Empirical model of large-batch training (McCandlish et al. 2018, arXiv 1812.06162,
Sec. 2, Eq. 2.11; restated by Kaplan et al. 2020, arXiv 2001.08361, Sec. 5.1,
Eq. 5.1-5.5). Training to a given loss with batch B takes S optimizer steps and
E = B S training examples (tokens, images, ...). Steps and examples trade off along
a hyperbola

    (S / S_min - 1) (E / E_min - 1) = 1,          B_crit = E_min / S_min,

where S_min is the fewest steps (infinite batch) and E_min the fewest examples
(batch -> 0). Solving with E = B S gives, at batch B,

    E = E_min (1 + B / B_crit)        (examples_multiplier; Kaplan Eq. 5.5 for C)
    S = S_min (1 + B_crit / B)        (steps_multiplier;    Kaplan Eq. 5.4)

Compute is proportional to examples (C = 6 N E for a transformer), so only the
fraction C_min / C = 1 / (1 + B / B_crit) of the compute spent at batch B counts
toward the minimum compute C_min: data parallelism past the critical batch wastes
compute (at B = B_crit half of it).

The critical batch of language models grows as the loss falls (Kaplan Eq. 5.3):

    B_crit(L) = B* / L^{1 / alpha_B},   B* ~ 2e8 tokens, alpha_B ~ 0.21,

with L the test cross-entropy in nats per token (Kaplan Sec. 5.1, fit to their
WebText2 models; 1 / 0.21 ~ 4.8).

`batch_limits()` loads `simulator/catalog/batch_limits.csv`, the batch sizes used by
published runs, the largest batches reported without accuracy loss and the critical
batch studies, each row with its source (copied from the shared reference data).

Pure functions, numpy only; the CSV is read on first call of `batch_limits()`, never
at import.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib.resources import files

import numpy as np
from numpy.typing import ArrayLike

#: Kaplan et al. 2020 (arXiv 2001.08361), Sec. 5.1, Eq. 5.3: B* ~ 2e8 tokens.
KAPLAN_B_STAR_TOKENS = 2e8
#: Kaplan et al. 2020 (arXiv 2001.08361), Sec. 5.1, Eq. 5.3: alpha_B ~ 0.21.
KAPLAN_ALPHA_B = 0.21

#: Kaplan et al. 2020, Eq. 1.1 and Table 5: L(N) = (N_c / N)^alpha_N, N_c ~ 8.8e13
#: non-embedding parameters (from memory - verify).
KAPLAN_N_C = 8.8e13
#: Kaplan et al. 2020, Eq. 1.1: alpha_N ~ 0.076 (from memory - verify).
KAPLAN_ALPHA_N = 0.076

BATCH_LIMITS_CSV = "batch_limits.csv"


# ------------------------------------------------------------------ trade-off
def _positive(x: ArrayLike, name: str) -> np.ndarray:
    if type(x) is float and x > 0:  # the frontier's scalar calls: no reduction over a 0-d array
        return np.float64(x)
    a = np.asarray(x, dtype=float)
    if np.any(~(a > 0)):
        raise ValueError(f"{name} must be > 0, got {x!r}")
    return a


def _out(a: np.ndarray) -> float | np.ndarray:
    return float(a) if a.ndim == 0 else a


def examples_multiplier(batch: ArrayLike, b_crit: ArrayLike) -> float | np.ndarray:
    """E / E_min = 1 + B / B_crit: examples (data, compute) needed at batch B relative to
    the minimum (McCandlish et al. 2018, Eq. 2.11; Kaplan et al. 2020, Eq. 5.5)."""
    b, bc = _positive(batch, "batch"), _positive(b_crit, "b_crit")
    return _out(1.0 + b / bc)


def steps_multiplier(batch: ArrayLike, b_crit: ArrayLike) -> float | np.ndarray:
    """S / S_min = 1 + B_crit / B: serial optimizer steps at batch B relative to the
    minimum (McCandlish et al. 2018, Eq. 2.11; Kaplan et al. 2020, Eq. 5.4)."""
    b, bc = _positive(batch, "batch"), _positive(b_crit, "b_crit")
    return _out(1.0 + bc / b)


def useful_fraction(batch: ArrayLike, b_crit: ArrayLike) -> float | np.ndarray:
    """C_min / C = 1 / (1 + B / B_crit): the share of the compute spent at batch B that
    counts toward the minimum compute (Kaplan et al. 2020, Eq. 5.5). The rest is the
    waste of data parallelism past the critical batch."""
    return _out(1.0 / np.asarray(examples_multiplier(batch, b_crit)))


def compute_efficiency(batch: ArrayLike, critical_batch: ArrayLike) -> float | np.ndarray:
    """Alias of `useful_fraction`: C_min / C = 1 / (1 + B / B_crit)."""
    return useful_fraction(batch, critical_batch)


def kaplan_critical_batch_tokens(loss_nats: ArrayLike) -> float | np.ndarray:
    """B_crit(L) = B* / L^{1/alpha_B} in tokens (Kaplan et al. 2020, Eq. 5.3), with
    B* = 2e8 tokens and alpha_B = 0.21 (their Sec. 5.1); L is the test loss in nats
    per token. E.g. L = 3 nats gives about 1.07e6 tokens."""
    loss = _positive(loss_nats, "loss_nats")
    return _out(KAPLAN_B_STAR_TOKENS / loss ** (1.0 / KAPLAN_ALPHA_B))


def kaplan_loss_nats(non_embedding_params: ArrayLike) -> float | np.ndarray:
    """L(N) = (N_c / N)^alpha_N: the loss in nats per token a transformer language
    model of N non-embedding parameters reaches when trained to convergence (Kaplan et
    al. 2020, Eq. 1.1). E.g. N = 1.7e11 (GPT-3) gives about 1.6 nats."""
    n = _positive(non_embedding_params, "non_embedding_params")
    return _out((KAPLAN_N_C / n) ** KAPLAN_ALPHA_N)


def largest_useful_batch(b_crit: ArrayLike, max_waste: ArrayLike) -> float | np.ndarray:
    """The largest batch B with useful_fraction(B, B_crit) >= 1 - max_waste.

    Solving 1 / (1 + B / B_crit) = 1 - w gives B = B_crit w / (1 - w); e.g. w = 1/2
    gives B = B_crit. `max_waste` (the fraction of compute one accepts to lose to
    large batches, in [0, 1)) has no default here: the frontier solver takes it as a
    scenario input.
    """
    bc = _positive(b_crit, "b_crit")
    w = np.asarray(max_waste, dtype=float)
    if np.any(~((w >= 0) & (w < 1))):
        raise ValueError(f"max_waste must be in [0, 1), got {max_waste!r}")
    return _out(bc * w / (1.0 - w))


# ------------------------------------------------------------------ catalog rows
class BatchKind(Enum):
    """What a batch_limits.csv row reports (its `kind` column)."""

    USED = "used in training run"
    MAX_WITHOUT_LOSS = "max batch without accuracy loss"
    CRITICAL = "critical batch"  # studies and scaling laws of the critical batch


@dataclass(frozen=True)
class BatchLimit:
    """One row of batch_limits.csv. A ramp ("512 -> 1024 -> 2048") keeps all its values
    in order; `batch_size` / `batch_tokens` are the final (largest) value or None where
    the cell is empty. `approximate` marks cells written with "~"."""

    key: str
    year: int
    system: str
    domain: str
    kind: BatchKind
    batch_size_ramp: tuple[float, ...]
    batch_unit: str
    batch_tokens_ramp: tuple[float, ...]
    approximate: bool
    hardware_context: str
    outcome: str
    source: str
    verification: str

    @property
    def batch_size(self) -> float | None:
        return self.batch_size_ramp[-1] if self.batch_size_ramp else None

    @property
    def batch_tokens(self) -> float | None:
        return self.batch_tokens_ramp[-1] if self.batch_tokens_ramp else None


_SUFFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "B": 1e9}
_NUMBER = re.compile(r"^~?\s*([0-9][0-9,]*(?:\.[0-9]+)?)\s*([kKMB]?)$")


def _ramp(cell: str, where: str) -> tuple[float, ...]:
    out = []
    for part in filter(None, (p.strip() for p in cell.split("->"))):
        m = _NUMBER.match(part)
        if m is None:
            raise ValueError(f"{where}: cannot read a number from {cell!r}")
        out.append(float(m.group(1).replace(",", "")) * _SUFFIX[m.group(2)])
    return tuple(out)


def _kind(text: str, where: str) -> BatchKind:
    if text.startswith("critical batch"):
        return BatchKind.CRITICAL
    try:
        return BatchKind(text)
    except ValueError:
        raise ValueError(f"{where}: unknown kind {text!r}") from None


def _parse_batch_limits(text: str, name: str = BATCH_LIMITS_CSV) -> tuple[BatchLimit, ...]:
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        where = f"{name}, row {r['key']!r}"
        rows.append(
            BatchLimit(
                key=r["key"],
                year=int(r["year"]),
                system=r["system_or_study"],
                domain=r["domain"],
                kind=_kind(r["kind"], where),
                batch_size_ramp=_ramp(r["batch_size"], f"{where}, batch_size"),
                batch_unit=r["batch_unit"],
                batch_tokens_ramp=_ramp(r["batch_tokens"], f"{where}, batch_tokens"),
                approximate="~" in r["batch_size"] + r["batch_tokens"],
                hardware_context=r["hardware_context"],
                outcome=r["outcome"],
                source=r["source"],
                verification=r["verification"],
            )
        )
    return tuple(rows)


@cache
def batch_limits() -> tuple[BatchLimit, ...]:
    """The rows of the packaged batch_limits.csv, in file order (read once)."""
    text = files("simulator.catalog").joinpath(BATCH_LIMITS_CSV).read_text(encoding="utf-8")
    return _parse_batch_limits(text)


# ------------------------------------------------------------------ batch-size laws
BATCH_LAWS_CSV = "batch_laws.csv"
LAW_VARIABLES = ("loss", "compute", "params", "tokens")


@dataclass(frozen=True)
class BatchLaw:
    """A published batch-size law B = coefficient x variable^exponent, in tokens
    (catalog/batch_laws.csv); Kaplan's goes through the loss L(N) (`kaplan_*` above)."""

    key: str
    law: str
    coefficient: float
    exponent: float
    variable: str  # loss (Kaplan: through L(N)), compute (C = 6 N D), params (N), tokens (D)
    domain: str
    source: str

    def tokens(self, params: float, tokens: float) -> float:
        """The law's batch in tokens for a model of `params` non-embedding parameters trained
        on `tokens` tokens."""
        if self.variable == "loss":
            return float(kaplan_critical_batch_tokens(kaplan_loss_nats(params)))
        x = {"compute": 6.0 * params * tokens, "params": params, "tokens": tokens}[self.variable]
        return self.coefficient * x ** self.exponent


def parse_batch_laws(text: str, name: str = BATCH_LAWS_CSV) -> dict[str, BatchLaw]:
    out = {}
    for i, r in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        where = f"{name}: line {i} ({r.get('key')!r})"
        try:
            coef, exp = float(r["coefficient"]), float(r["exponent"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: coefficient and exponent must be numbers") from None
        if not (coef > 0 and exp > 0):
            raise ValueError(f"{where}: coefficient and exponent must be > 0")
        if r.get("variable") not in LAW_VARIABLES:
            raise ValueError(f"{where}: column 'variable': {r.get('variable')!r} is not one of {LAW_VARIABLES}")
        if not (r.get("source") or "").strip():
            raise ValueError(f"{where}: column 'source': empty")
        out[r["key"]] = BatchLaw(r["key"], r["law"], coef, exp, r["variable"], r["domain_of_fit"], r["source"])
    return out


@cache
def batch_laws() -> dict[str, BatchLaw]:
    """The published batch-size laws the frontier may use (catalog/batch_laws.csv)."""
    return parse_batch_laws(files("simulator.catalog").joinpath(BATCH_LAWS_CSV).read_text(encoding="utf-8"))
