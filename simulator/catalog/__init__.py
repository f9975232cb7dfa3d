"""The packaged catalog: accelerators, link tiers and calibration measurements.

Data live in CSV files next to this package (with per-row sources); the loaders in
`hardware` read them lazily, on first call, and convert human units to SI once.
"""

from simulator.catalog.hardware import (
    accelerators,
    calibration_csv_path,
    default_links,
    find_accelerator,
    find_link,
    links,
)

__all__ = [
    "accelerators",
    "calibration_csv_path",
    "default_links",
    "find_accelerator",
    "find_link",
    "links",
]
