"""Named unit constants and formatting helpers.

Everything inside the package is SI (seconds, bytes, FLOP, FLOP/s, watts, USD).
Human units (GB, TFLOP/s, Gb/s) appear only in data files and are converted once,
by the catalog loaders, with these constants.
"""

from __future__ import annotations

KILO = 1e3
MEGA = 1e6
GIGA = 1e9
TERA = 1e12
PETA = 1e15

KB = 1e3
MB = 1e6
GB = 1e9
TB = 1e12
GIB = 2**30

US = 1e-6
MS = 1e-3
HOUR_S = 3600.0
DAY_S = 86400.0

#: One petaflop/s-day, the unit of OpenAI's "AI and Compute" (1e15 FLOP/s for a day).
PFS_DAY_FLOP = PETA * DAY_S


def fmt_seconds(t_s: float) -> str:
    """Human-readable duration: '812 us', '14.2 ms', '3.51 s', '2.0 h'."""
    if t_s < 1e-3:
        return f"{t_s / US:.0f} us"
    if t_s < 1.0:
        return f"{t_s / MS:.1f} ms"
    if t_s < 3 * HOUR_S:
        return f"{t_s:.3g} s"
    if t_s < 3 * DAY_S:
        return f"{t_s / HOUR_S:.1f} h"
    return f"{t_s / DAY_S:.1f} d"


def partial_date(text):
    """YYYY-MM-DD, or YYYY-MM / YYYY meaning the first day of that month or year (a date
    is returned as it is).

    ValueError "not a date (YYYY, YYYY-MM or YYYY-MM-DD)" when `text` is not such a date
    (the caller names the file, key or flag and the value).
    """
    from datetime import date

    if isinstance(text, date):
        return text
    parts = str(text).strip().split("-")
    try:
        if not 1 <= len(parts) <= 3:
            raise ValueError
        return date(*(int(p) for p in parts), *([1] * (3 - len(parts))))
    except (TypeError, ValueError):
        raise ValueError("not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None


#: Propagation delay of light in single-mode fibre: the effective group index 1.4682 at
#: 1550 nm (Corning SMF-28 Ultra product information) over c, 4.9 us per km.
FIBRE_S_PER_KM = 1.4682 / 299_792.458


def name_list(names, limit: int = 48, listed_in: str | None = None) -> str:
    """Names joined by commas, cut after about `limit` characters with how many more there
    are and where all are listed (`listed_in`), so an error stays one short line."""
    names = [str(n) for n in names]
    shown, more = names[:1], names[1:]
    while more and len(", ".join(shown + more[:1])) <= limit:
        shown.append(more.pop(0))
    return ", ".join(shown) + (f", ... ({len(more)} more{': ' + listed_in if listed_in else ''})" if more else "")
