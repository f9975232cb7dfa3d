"""Layout search: the fastest feasible parallel layout for a model on a cluster."""

from simulator.search.rank import SearchResult, search_layouts

__all__ = ["SearchResult", "search_layouts"]
