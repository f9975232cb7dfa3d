"""The lowest layer: units and number formats, worker pools, the frozen dataclasses every layer shares."""
