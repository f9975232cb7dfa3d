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

Rank placement follows Megatron-Core: tensor-parallel ranks innermost, then context,
then data (expert-parallel groups are carved from the data ranks), then pipeline; a
group's `local` size is how many of its ranks share a node.

A torus tier (TPU ICI, Jouppi et al. 2020, 2023) has no switch: a group spanning j of
the torus's k dimensions runs a ring along each of them at once (XLA's multi-dimensional
collectives; jax-ml/scaling-book, "collectives over multiple axes get the bandwidth of
each"), so it uses j / k of the chip's links and crosses sum(d_i - 1) hops, not r - 1.

Units: bytes, bytes/s, seconds. Bandwidths are per device, per direction. Sizes
and rank counts may be numpy arrays (the layout search scores many at once).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.core.specs import Cluster, Efficiency, Layout, Schedule


def _scalar(x):
    """Python float for 0-d results, so scalar callers (the engine) stay in floats."""
    return float(x) if np.ndim(x) == 0 else x


@dataclass(frozen=True)
class Tier:
    """One link tier as a collective sees it: effective bandwidth and latency."""

    bandwidth_bytes_per_s: float
    latency_s: float  # per collective phase
    hop_latency_s: float = 0.0  # per hop
    torus: tuple[int, ...] = ()  # the torus's shape (TPU ICI); () for a switched tier

    def _ring(self, ranks):
        """(bandwidth a ring over `ranks` gets, hops of one pass around it)."""
        r = np.maximum(ranks, 1)
        if not self.torus:
            return self.bandwidth_bytes_per_s, r - 1
        k = len(self.torus)
        side = float(np.prod(self.torus)) ** (1 / k)
        j = np.clip(np.ceil(np.log(r) / np.log(side) - 1e-9), 1, k)
        return self.bandwidth_bytes_per_s * j / k, j * (r ** (1 / j) - 1)

    def p2p(self, n_bytes: float) -> float:
        """Point-to-point transfer time (on a torus: one of the chip's 2k links)."""
        bw = self.bandwidth_bytes_per_s / (2 * len(self.torus) if self.torus else 1)
        return self.latency_s + n_bytes / bw

    def all_reduce(self, n_bytes, ranks):
        """min(ring, double binary tree) all-reduce time (0 for one rank); rings only on a torus."""
        hop = self.hop_latency_s
        r = np.maximum(ranks, 1)
        bw, hops = self._ring(r)
        ring = 2 * (self.latency_s + hops * hop + (r - 1) * n_bytes / r / bw)
        tree = 2 * (self.latency_s + np.log2(r) * hop) + 2 * n_bytes / bw if not self.torus else ring
        return _scalar(np.where((r > 1) & (n_bytes > 0), np.minimum(ring, tree), 0.0))

    def all_gather(self, n_bytes, ranks):
        """Ring all-gather (or reduce-scatter) of a buffer of n_bytes in total."""
        r = np.maximum(ranks, 1)
        bw, hops = self._ring(r)
        t = self.latency_s + hops * self.hop_latency_s + (r - 1) * n_bytes / r / bw
        return _scalar(np.where((r > 1) & (n_bytes > 0), t, 0.0))


@dataclass(frozen=True)
class Group:
    """A communicator: `ranks` ranks, `local` of them inside each node."""

    ranks: int
    local: int
    intra: Tier
    inter: Tier

    @property
    def nodes(self):
        """Nodes the group spans."""
        return np.maximum(1, -(-self.ranks // np.maximum(self.local, 1)))

    def all_reduce(self, n_bytes):
        """Seconds to all-reduce `n_bytes` over the group."""
        one = self.intra.all_reduce(n_bytes, self.ranks)
        many = 2 * self.intra.all_gather(n_bytes, self.local) + self.inter.all_reduce(
            n_bytes / self.local, self.nodes
        )
        return _scalar(np.where(self.nodes == 1, one, many))

    def all_gather(self, n_bytes):
        """All-gather (equally: reduce-scatter) of a buffer of n_bytes in total."""
        one = self.intra.all_gather(n_bytes, self.ranks)
        many = self.intra.all_gather(n_bytes, self.local) + self.inter.all_gather(n_bytes / self.local, self.nodes)
        return _scalar(np.where(self.nodes == 1, one, many))

    def flat_all_gather(self, n_bytes):
        """All-gather on a flat ring over all ranks: each rank moves its traffic over
        its own link of the slowest tier (no multi-rail aggregation within a node)."""
        inter = self.inter.all_gather(n_bytes, self.ranks)
        return _scalar(np.where(self.nodes > 1, inter, self.intra.all_gather(n_bytes, self.ranks)))

    def all_to_all(self, n_bytes):
        """All-to-all of the n_bytes each rank holds (it keeps 1/r, sends the rest): the
        share for ranks in its node crosses the node tier, the rest the network, at once
        (NCCL's all-to-all is point-to-point sends to every peer)."""
        r = np.maximum(self.ranks, 1)
        local = np.minimum(np.maximum(self.local, 1), r)
        near = n_bytes * (local - 1) / r / self.intra.bandwidth_bytes_per_s
        far = n_bytes * (r - local) / r / self.inter.bandwidth_bytes_per_s
        lat = np.where(self.nodes > 1, self.inter.latency_s, self.intra.latency_s)
        return _scalar(np.where((r > 1) & (n_bytes > 0), lat + np.maximum(near, far), 0.0))

    def ring_pass(self, n_bytes):
        """One step of a ring of point-to-point sends (ring attention): every rank sends
        n_bytes to its neighbour, over the network if the ring leaves the node."""
        t = np.where(self.nodes > 1, self.inter.p2p(n_bytes), self.intra.p2p(n_bytes))
        return _scalar(np.where(self.ranks > 1, t, 0.0))

    @property
    def crosses_nodes(self):
        """Whether the group leaves one node."""
        return self.nodes > 1


@dataclass(frozen=True)
class SiteGroup:
    """A group spread evenly over several sites (data parallelism across sites): each
    site's share runs as `inner`; between sites, a ring of `sites` ranks per shard over the
    sites' link, whose bandwidth the site's devices share, each hop paying the fibre's
    propagation delay. Collectives run hierarchically, as NCCL does across nodes: only
    1 / (ranks in a site) of the bytes leaves a site."""

    inner: Group
    sites: int
    wan: Tier

    @property
    def ranks(self):
        """Ranks of the group over every site."""
        return self.inner.ranks * self.sites

    @property
    def nodes(self):
        """Nodes the group spans."""
        return self.inner.nodes * self.sites

    @property
    def crosses_nodes(self):
        """Whether the group leaves one node."""
        return True

    def all_reduce(self, n_bytes):
        """Seconds to all-reduce `n_bytes` over the group."""
        shard = n_bytes / np.maximum(self.inner.ranks, 1)
        return _scalar(2 * self.inner.all_gather(n_bytes) + self.wan.all_reduce(shard, self.sites))

    def all_gather(self, n_bytes):
        """Seconds to all-gather `n_bytes` over the group."""
        shard = n_bytes / np.maximum(self.inner.ranks, 1)
        return _scalar(self.inner.all_gather(n_bytes) + self.wan.all_gather(shard, self.sites))

    def flat_all_gather(self, n_bytes):
        """Seconds to all-gather `n_bytes` in one flat ring (no hierarchy inside the sites)."""
        shard = n_bytes / np.maximum(self.inner.ranks, 1)
        return _scalar(self.inner.flat_all_gather(n_bytes) + self.wan.all_gather(shard, self.sites))


def site_tier(cluster: Cluster, eff: Efficiency) -> Tier:
    """The link between sites as one device sees it: the site's bandwidth shared by its
    devices (at the network tier's efficiency), the link's latency once per phase and the
    one-way delay per hop."""
    link = cluster.site_link
    per_device = link.bandwidth_bytes_per_s * eff.inter_link / (cluster.n_devices / cluster.sites)
    return Tier(per_device, cluster.inter_link.latency_s, link.latency_s)


def tiers(cluster: Cluster, eff: Efficiency) -> tuple[Tier, Tier]:
    """Effective (intra-node, inter-node) tiers: catalog bandwidth x efficiency."""
    il, xl = cluster.intra_link, cluster.inter_link
    intra = Tier(il.bandwidth_bytes_per_s * eff.intra_link, il.latency_s, eff.hop_latency_s, il.torus)
    inter = Tier(xl.bandwidth_bytes_per_s * eff.inter_link, xl.latency_s, eff.hop_latency_s)
    return intra, inter


def tp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group:
    """The tensor-parallel group of a layout: tp ranks, the part of them inside one node."""
    intra, inter = tiers(cluster, eff)
    return Group(layout.tp, np.minimum(layout.tp, cluster.devices_per_node), intra, inter)


def _group(cluster: Cluster, eff: Efficiency, ranks, stride) -> Group:
    """`ranks` ranks `stride` apart: node_size // stride of them share a node."""
    intra, inter = tiers(cluster, eff)
    local = np.maximum(1, np.minimum(ranks, cluster.devices_per_node // stride))
    return Group(ranks, local, intra, inter)


def _replica_group(cluster: Cluster, layout: Layout, eff: Efficiency, ranks, stride) -> Group | SiteGroup:
    """A group of data-parallel replicas: split evenly over the sites when data parallelism
    spans several (each site holds whole replicas); inside one site when the pipeline
    spans them (`Layout.site_split` "pp": each site holds a block of every replica's stages)."""
    if cluster.sites > 1 and layout.site_split == "dp":
        return SiteGroup(_group(cluster, eff, ranks // cluster.sites, stride), cluster.sites, site_tier(cluster, eff))
    return _group(cluster, eff, ranks, stride)


def dp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group | SiteGroup:
    """The gradient-reduction (and ZeRO) group: data and context ranks, tp apart
    (Megatron-Core reduces gradients over dp x cp); across sites when data parallelism spans them."""
    return _replica_group(cluster, layout, eff, layout.dp * layout.cp, layout.tp)


def cp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group:
    """Context-parallel ranks sit tp apart."""
    return _group(cluster, eff, layout.cp, layout.tp)


def ep_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group:
    """Expert-parallel ranks: consecutive data ranks, tp x cp apart."""
    return _group(cluster, eff, layout.ep, layout.tp * layout.cp)


def expert_dp_group(cluster: Cluster, layout: Layout, eff: Efficiency) -> Group | SiteGroup:
    """Ranks holding the same experts, which reduce their gradients: dp x cp / ep of them,
    tp x cp x ep apart."""
    return _replica_group(cluster, layout, eff, layout.dp * layout.cp // layout.ep, layout.tp * layout.cp * layout.ep)


def pp_crosses_nodes(cluster: Cluster, layout: Layout):
    """Neighbouring pipeline stages sit tp x cp x dp ranks apart: same node only if two fit."""
    return 2 * layout.tp * layout.cp * layout.dp > cluster.devices_per_node


def pp_tier(cluster: Cluster, layout: Layout, eff: Efficiency) -> Tier:
    """Tier between neighbouring pipeline stages."""
    intra, inter = tiers(cluster, eff)
    return inter if bool(pp_crosses_nodes(cluster, layout)) else intra


def pipeline_sites(cluster: Cluster, layout: Layout) -> int:
    """Sites the pipeline spans: the cluster's sites when `layout.site_split` is "pp" (each
    holds pp / sites consecutive stages of every replica), else 1."""
    return cluster.sites if cluster.sites > 1 and layout.site_split == "pp" else 1


def site_boundary_senders(sites: int, v) -> object:
    """Pipeline stages whose devices send over one site's link in one direction: with two
    sites and one chunk per device, the last stage of the first site (activations) or the
    first of the second (gradients); otherwise a site also sends from its other end (its
    first stage's gradients back, or, interleaved, the wrap from the last stage to the first)."""
    return np.where((sites == 2) & (np.asarray(v) == 1), 1, 2)


def site_p2p_tier(cluster: Cluster, layout: Layout, eff: Efficiency) -> Tier:
    """The link between two pipeline stages at a site boundary as one sending device sees it:
    the site's bandwidth (at the network tier's efficiency) shared by the devices of the
    stages sending over it (dp x tp x cp per stage, see `site_boundary_senders`), at most its
    own network bandwidth; the network's latency plus the fibre's one-way delay per transfer."""
    link = cluster.site_link
    v = layout.virtual_stages if layout.schedule is Schedule.INTERLEAVED else 1
    senders = site_boundary_senders(pipeline_sites(cluster, layout), v) * layout.dp * layout.tp * layout.cp
    share = link.bandwidth_bytes_per_s * eff.inter_link / senders
    nic = cluster.inter_link.bandwidth_bytes_per_s * eff.inter_link
    return Tier(np.minimum(share, nic), cluster.inter_link.latency_s + link.latency_s)


def pp_message_bytes(seq_len: int, micro_batch: int, hidden: int, elem_bytes: int, tp: int) -> float:
    """Activation (or its gradient) sent between stages, per device.

    Narayanan et al. 2021 Sec. 4.1 scatter/gather: each of the tp ranks sends 1/tp of
    the b s h tensor over its own NIC and the receivers all-gather over NVLink.
    """
    return seq_len * micro_batch * hidden * elem_bytes / tp
