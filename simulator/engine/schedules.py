"""Per-device op orders of the pipeline schedules.

An op is (is_backward, chunk, micro_batch). Dependencies are not encoded here: the
engine waits for the neighbouring stage's op, so an order only says what each device
does next, as the frameworks do.

- GPipe (Huang et al. 2019): all forwards, then all backwards.
- 1F1B (PipeDream-Flush; Narayanan et al. 2021 Sec. 2.2.1): p - s - 1 warm-up
  forwards, then one forward / one backward, then the remaining backwards.
- Interleaved 1F1B (Narayanan et al. 2021 Sec. 2.2.2; Megatron-LM
  `forward_backward_pipelining_with_interleaving`): each device holds v chunks;
  micro-batches go round in groups of p; warm-up (p - s - 1) * 2 + (v - 1) * p.
"""

from __future__ import annotations

from simulator.core.specs import Schedule

Op = tuple[bool, int, int]  # (is_backward, chunk, micro_batch)


def gpipe(m: int) -> list[Op]:
    """GPipe: every forward of the `m` micro-batches, then every backward."""
    return [(False, 0, i) for i in range(m)] + [(True, 0, i) for i in range(m)]


def one_f_one_b(p: int, m: int, s: int) -> list[Op]:
    """1F1B (PipeDream-Flush) on stage `s` of `p`: warm-up forwards, then one forward and one backward in turn."""
    warm = min(p - s - 1, m)
    ops: list[Op] = [(False, 0, i) for i in range(warm)]
    f, b = warm, 0
    while f < m:
        ops.append((False, 0, f))
        ops.append((True, 0, b))
        f, b = f + 1, b + 1
    ops.extend((True, 0, i) for i in range(b, m))
    return ops


def interleaved(p: int, v: int, m: int, s: int) -> list[Op]:
    """Megatron's interleaved order; needs m divisible by p."""
    total = m * v

    def mb(k: int) -> int:
        """The micro-batch of the `k`-th op of the interleaved order."""
        return (k // (p * v)) * p + k % p

    def fwd(k: int) -> Op:
        """The `k`-th forward: (backward?, chunk, micro-batch)."""
        return (False, (k // p) % v, mb(k))

    def bwd(k: int) -> Op:
        """The `k`-th backward: (backward?, chunk, micro-batch)."""
        return (True, v - 1 - (k // p) % v, mb(k))

    warm = min((p - s - 1) * 2 + (v - 1) * p, total)
    ops = [fwd(k) for k in range(warm)]
    f, b = warm, 0
    while f < total:
        ops.append(fwd(f))
        ops.append(bwd(b))
        f, b = f + 1, b + 1
    ops.extend(bwd(k) for k in range(b, total))
    return ops


def device_order(schedule: Schedule, p: int, v: int, m: int, s: int) -> list[Op]:
    """The op order of pipeline stage s."""
    if schedule is Schedule.GPIPE:
        return gpipe(m)
    if schedule is Schedule.INTERLEAVED and v > 1:
        return interleaved(p, v, m, s)
    return one_f_one_b(p, m, s)
