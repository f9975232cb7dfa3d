"""Collective communication times over a two-tier (node / network) hierarchy.

Alpha-beta model (Thakur, Rabenseifner & Gropp 2005; Chan et al. 2007): a ring
all-reduce of n bytes over p ranks moves 2 (p - 1) / p n bytes through each rank's
link and takes 2 (p - 1) hops; all-gather and reduce-scatter move (p - 1) / p n
and take p - 1 hops; a double binary tree all-reduce (NCCL) moves about 2 n and
takes 2 log2 p hops. NCCL picks the faster; so do we. Latency has two parts: the
link's per-collective latency (launch and software, the catalog's `latency_us`,
Calculon's fitted tiers) paid once per phase, and a hop latency (the network's
small-message latency, efficiency.toml) paid per hop, since NCCL pipelines the
data of a large message but each chunk still crosses every hop.

Groups spanning nodes run hierarchically (as NCCL does with one NIC per GPU):
reduce-scatter inside the node, all-reduce of the 1/local shard across nodes, then
all-gather inside the node; only 1/local of the bytes crosses the network.

Rank placement follows Megatron-LM: tensor-parallel ranks innermost, then data,
then pipeline; a group's `local` size is how many of its ranks share a node.

Units: bytes, bytes/s, seconds. Bandwidths are per device, per direction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.specs import Cluster, Efficiency, Layout


@dataclass(frozen=True)
class Tier:
    """One link tier as a collective sees it: effective bandwidth and latency."""

    bandwidth_bytes_per_s: float
    latency_s: float  # per collective phase
    hop_latency_s: float = 0.0  # per hop

    def p2p(self, n_bytes: float) -> float:
        """Point-to-point transfer time."""
        return self.latency_s + n_bytes / self.bandwidth_bytes_per_s

    def all_reduce(self, n_bytes: float, ranks: int) -> float:
        """min(ring, double binary tree) all-reduce time."""
        if ranks <= 1 or n_bytes <= 0:
            return 0.0
        bw, hop = self.bandwidth_bytes_per_s, self.hop_latency_s
        ring = 2 * (self.latency_s + (ranks - 1) * (hop + n_bytes / ranks / bw))
        tree = 2 * (self.latency_s + math.log2(ranks) * hop) + 2 * n_bytes / bw
        return min(ring, tree)

    def all_gather(self, n_bytes: float, ranks: int) -> float:
        """Ring all-gather (or reduce-scatter) of a buffer of n_bytes in total."""
        if ranks <= 1 or n_bytes <= 0:
            return 0.0
        return self.latency_s + (ranks - 1) * (self.hop_latency_s + n_bytes / ranks / self.bandwidth_bytes_per_s)


@dataclass(frozen=True)
class Group:
    """A communicator: `ranks` ranks, `local` of them inside each node."""

    ranks: int
    local: int
    intra: Tier
    inter: Tier

    @property
    def nodes(self) -> int:
        return max(1, -(-self.ranks // max(self.local, 1)))

    def all_reduce(self, n_bytes: float) -> float:
        if self.nodes == 1:
            return self.intra.all_reduce(n_bytes, self.ranks)
        return (
            2 * self.intra.all_gather(n_bytes, self.local)
            + self.inter.all_reduce(n_bytes / self.local, self.nodes)
        )

    def all_gather(self, n_bytes: float) -> float:
        """All-gather (equally: reduce-scatter) of a buffer of n_bytes in total."""
        if self.nodes == 1:
            return self.intra.all_gather(n_bytes, self.ranks)
        return self.intra.all_gather(n_bytes, self.local) + self.inter.all_gather(
            n_bytes / self.local, self.nodes
        )

    def flat_all_gather(self, n_bytes: float) -> float:
        """All-gather on a flat ring over all ranks: each rank moves its traffic over
        its own link of the slowest tier (no multi-rail aggregation within a node)."""
        tier = self.inter if self.nodes > 1 else self.intra
        return tier.all_gather(n_bytes, self.ranks)

    @property
    def crosses_nodes(self) -> bool:
        return self.nodes > 1


def tiers(cluster: Cluster, eff: Efficiency) -> tuple[Tier, Tier]:
    """Effective (intra-node, inter-node) tiers: catalog bandwidth x efficiency."""
    il, xl = cluster.intra_link, cluster.inter_link
    intra = Tier(il.bandwidth_bytes_per_s * eff.intra_link, il.latency_s, eff.hop_latency_s)
    inter = Tier(xl.bandwidth_bytes_per_s * eff.inter_link, xl.latency_s, eff.hop_latency_s)
    return intra, inter


def tp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group:
    intra, inter = tiers(cluster, eff)
    return Group(layout.tp, min(layout.tp, cluster.devices_per_node), intra, inter)


def dp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group:
    """Data-parallel ranks sit tp apart: node_size // tp of them share a node."""
    intra, inter = tiers(cluster, eff)
    local = max(1, min(layout.dp, cluster.devices_per_node // layout.tp))
    return Group(layout.dp, local, intra, inter)


def pp_crosses_nodes(cluster: Cluster, layout: Layout) -> bool:
    """Neighbouring pipeline stages sit tp x dp ranks apart: same node only if two fit."""
    return 2 * layout.tp * layout.dp > cluster.devices_per_node


def pp_tier(cluster: Cluster, layout: Layout, eff: Efficiency) -> Tier:
    """Tier between neighbouring pipeline stages."""
    intra, inter = tiers(cluster, eff)
    return inter if pp_crosses_nodes(cluster, layout) else intra


def pp_message_bytes(seq_len: int, micro_batch: int, hidden: int, elem_bytes: int, tp: int) -> float:
    """Activation (or its gradient) sent between stages, per device.

    Narayanan et al. 2021 Sec. 4.1 scatter/gather: each of the tp ranks sends 1/tp of
    the b s h tensor over its own NIC and the receivers all-gather over NVLink.
    """
    return seq_len * micro_batch * hidden * elem_bytes / tp
