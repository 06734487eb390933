//! What the control API needs from a gossip node, and the adapter that gives
//! it for a memberlist-plumtree node (a [`PlumtreeDiscovery`] and the
//! [`Memberlist`] that carries it, as [`MemberlistStack`] or hand-wired).
//!
//! Every answer comes from the library's own API: `PeerState::topology()`,
//! `Memberlist::online_members()`, `Plumtree::health()`, `cache_stats()`,
//! the sync handler's root hash, `Memberlist::leave()`/`join()` and
//! `Plumtree::rebalance_peers()`. Nothing here invents a call the library
//! does not have.

use std::fmt::{Debug, Display};
use std::future::Future;
use std::hash::Hash;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use memberlist_plumtree::memberlist::delegate::Delegate;
use memberlist_plumtree::memberlist::proto::MaybeResolvedAddress;
use memberlist_plumtree::memberlist::transport::Transport as MemberlistTransport;
use memberlist_plumtree::memberlist::Memberlist;
use memberlist_plumtree::storage::MessageStore;
use memberlist_plumtree::sync::SyncStrategy;
use memberlist_plumtree::{
    HealthReport, HealthStatus, IdCodec, MemberlistStack, PlumtreeDelegate, PlumtreeDiscovery,
};

use crate::wire::{
    CacheView, HealthView, JoinView, MemberView, PeerCounts, PeersView, RebalanceView, SyncView,
};

/// A failed membership call, as the control API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MembershipError {
    /// The node left the cluster: memberlist refuses to join again in this
    /// process (memberlist-core 0.7 answers `NotRunning`). Restart it.
    Left,
    /// No seed took the join (every seed's error, in order).
    NoSeedReachable(Vec<String>),
    /// The leave did not reach any member within the timeout.
    LeaveTimeout(String),
    /// Anything else the library reported.
    Other(String),
}

impl Display for MembershipError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Left => write!(f, "this node has left the cluster; memberlist does not rejoin after a leave: restart the process to join again"),
            Self::NoSeedReachable(errors) => write!(f, "no seed took the join: {}", errors.join("; ")),
            Self::LeaveTimeout(e) => write!(f, "the leave was not acknowledged in time: {e}"),
            Self::Other(e) => write!(f, "{e}"),
        }
    }
}

/// The node id types the control API works with: what memberlist and
/// plumtree both need of an id, plus `Display` (ids are names on the wire).
pub trait NodeId:
    memberlist_plumtree::discovery::Id + IdCodec + memberlist_plumtree::memberlist::proto::Data + Clone + Eq + Ord + Hash + Debug + Display + Send + Sync + 'static
{
}

impl<T> NodeId for T where
    T: memberlist_plumtree::discovery::Id + IdCodec + memberlist_plumtree::memberlist::proto::Data + Clone + Eq + Ord + Hash + Debug + Display + Send + Sync + 'static
{
}

/// What the control API reads and does on a gossip node.
///
/// Implemented by [`PlumtreeNode`] for every memberlist-plumtree node; an
/// application with its own wiring can implement it too (the router only
/// needs this trait).
pub trait ControlTarget: Send + Sync + 'static {
    /// The node's id as its peers know it.
    fn name(&self) -> String;
    /// Eager and lazy peers (`PeerState::topology()`), sorted.
    fn peers(&self) -> PeersView;
    /// The members memberlist sees online (this node included while it is a member), sorted by name.
    fn members(&self) -> impl Future<Output = Vec<MemberView>> + Send;
    /// The library's own `health()`.
    fn health(&self) -> HealthView;
    /// The in-memory message cache (`cache_stats()`).
    fn cache(&self) -> CacheView;
    /// Anti-entropy: whether the node runs it, and the state it would compare.
    fn sync(&self) -> impl Future<Output = SyncView> + Send;
    /// Whether this node left the cluster (then it cannot join again until restarted).
    fn has_left(&self) -> bool;
    /// `leave(timeout)`: `Ok(true)` when this call left, `Ok(false)` when the node had already left.
    fn leave(&self, timeout: Duration) -> impl Future<Output = Result<bool, MembershipError>> + Send;
    /// `join(seeds)`: succeeds when any seed takes it.
    fn join(&self, seeds: Vec<SocketAddr>) -> impl Future<Output = Result<JoinView, MembershipError>> + Send;
    /// `rebalance_peers()`: the eager set re-picked to the configured fanout, peers told by GRAFT/PRUNE.
    fn rebalance(&self) -> RebalanceView;
    /// Sets the library's peer gauges from `peer_stats()` (called before each `/metrics` scrape).
    fn refresh_gauges(&self);
}

/// A memberlist-plumtree node as the control API sees it: its
/// [`PlumtreeDiscovery`] and the [`Memberlist`] it runs on.
pub struct PlumtreeNode<I, PD, S, SS, T, D>
where
    I: NodeId,
    PD: PlumtreeDelegate<I>,
    S: MessageStore + 'static,
    SS: SyncStrategy<I, S>,
    T: MemberlistTransport<Id = I>,
    D: Delegate<Id = I, Address = T::ResolvedAddress>,
{
    pm: Arc<PlumtreeDiscovery<I, PD, S, SS>>,
    memberlist: Memberlist<T, D>,
    left: AtomicBool,
}

impl<I, PD, S, SS, T, D> PlumtreeNode<I, PD, S, SS, T, D>
where
    I: NodeId,
    PD: PlumtreeDelegate<I>,
    S: MessageStore + 'static,
    SS: SyncStrategy<I, S>,
    T: MemberlistTransport<Id = I>,
    D: Delegate<Id = I, Address = T::ResolvedAddress>,
{
    /// A node wired by hand: the discovery layer and the memberlist carrying it.
    pub fn new(pm: Arc<PlumtreeDiscovery<I, PD, S, SS>>, memberlist: Memberlist<T, D>) -> Self {
        Self { pm, memberlist, left: AtomicBool::new(false) }
    }

    /// The discovery layer (for the application's own use).
    pub fn plumtree(&self) -> &Arc<PlumtreeDiscovery<I, PD, S, SS>> {
        &self.pm
    }
}

impl<I, PD, T, D> PlumtreeNode<I, PD, memberlist_plumtree::storage::MemoryStore, memberlist_plumtree::sync::PlumtreeSyncStrategy<I, memberlist_plumtree::storage::MemoryStore>, T, D>
where
    I: NodeId,
    PD: PlumtreeDelegate<I>,
    T: MemberlistTransport<Id = I>,
    D: Delegate<Id = I, Address = T::ResolvedAddress>,
{
    /// The node of a [`MemberlistStack`] (the library's production entry point).
    pub fn from_stack(stack: &MemberlistStack<I, PD, T, D>) -> Self {
        Self::new(stack.plumtree().clone(), stack.memberlist().clone())
    }
}

fn sorted<I: Display>(ids: impl IntoIterator<Item = I>) -> Vec<String> {
    let mut v: Vec<String> = ids.into_iter().map(|i| i.to_string()).collect();
    v.sort();
    v
}

fn health_view(r: &HealthReport) -> HealthView {
    HealthView {
        status: match r.status {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
        }
        .to_string(),
        message: r.message.clone(),
        peers: crate::wire::HealthPeers {
            total: r.peers.total_peers,
            eager: r.peers.eager_peers,
            lazy: r.peers.lazy_peers,
            target_eager: r.peers.target_eager_peers,
        },
        delivery: crate::wire::HealthDelivery {
            pending_grafts: r.delivery.pending_grafts,
            graft_failure_rate: r.delivery.graft_failure_rate,
            successful_grafts: r.delivery.successful_grafts,
            failed_grafts: r.delivery.failed_grafts,
        },
        cache: crate::wire::HealthCache {
            cached_messages: r.cache.cached_messages,
            max_capacity: r.cache.max_capacity,
        },
        shutdown: r.is_shutdown,
    }
}

impl<I, PD, S, SS, T, D> ControlTarget for PlumtreeNode<I, PD, S, SS, T, D>
where
    I: NodeId,
    PD: PlumtreeDelegate<I> + 'static,
    S: MessageStore + 'static,
    SS: SyncStrategy<I, S> + 'static,
    T: MemberlistTransport<Id = I> + 'static,
    T::ResolvedAddress: From<SocketAddr> + Display + Send + Sync,
    D: Delegate<Id = I, Address = T::ResolvedAddress> + 'static,
{
    fn name(&self) -> String {
        self.pm.plumtree().local_id().to_string()
    }

    fn peers(&self) -> PeersView {
        let t = self.pm.peers().topology();
        PeersView { eager: sorted(t.eager), lazy: sorted(t.lazy) }
    }

    async fn members(&self) -> Vec<MemberView> {
        let mut out: Vec<MemberView> = self
            .memberlist
            .online_members()
            .await
            .iter()
            .map(|m| MemberView { name: m.id().to_string(), address: m.address().to_string() })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn health(&self) -> HealthView {
        health_view(&self.pm.plumtree().health())
    }

    fn cache(&self) -> CacheView {
        let c = self.pm.cache_stats();
        CacheView { entries: c.entries, capacity: c.capacity, ttl_seconds: c.ttl.as_secs_f64() }
    }

    async fn sync(&self) -> SyncView {
        let handler = self.pm.sync_handler();
        let root = handler.root_hash();
        let stored = self.pm.store().count().await.ok();
        SyncView {
            enabled: self.pm.sync_is_enabled(),
            root_hash: root.iter().map(|b| format!("{b:02x}")).collect(),
            messages: handler.len(),
            stored_messages: stored,
        }
    }

    fn has_left(&self) -> bool {
        self.left.load(Ordering::Acquire)
    }

    async fn leave(&self, timeout: Duration) -> Result<bool, MembershipError> {
        if self.has_left() {
            return Ok(false);
        }
        let r = self.memberlist.leave(timeout).await;
        // Whatever the broadcast did, memberlist marked this node as leaving: it will refuse joins from now on.
        self.left.store(true, Ordering::Release);
        match r {
            Ok(left) => Ok(left),
            Err(e) => {
                let text = e.to_string();
                if text.to_lowercase().contains("timeout") {
                    Err(MembershipError::LeaveTimeout(text))
                } else {
                    Err(MembershipError::Other(text))
                }
            }
        }
    }

    async fn join(&self, seeds: Vec<SocketAddr>) -> Result<JoinView, MembershipError> {
        if self.has_left() {
            return Err(MembershipError::Left);
        }
        let local = self.pm.plumtree().local_id().clone();
        let mut joined = Vec::new();
        let mut errors = Vec::new();
        // Every seed is tried: one that does not answer must not keep the node out (as MemberlistStack::join).
        for addr in seeds {
            let seed = memberlist_plumtree::memberlist::transport::Node::new(local.clone(), MaybeResolvedAddress::Resolved(addr.into()));
            match self.memberlist.join(seed).await {
                Ok(_) => joined.push(addr.to_string()),
                Err(e) => {
                    let text = e.to_string();
                    if text.contains("not running") || text.contains("NotRunning") {
                        self.left.store(true, Ordering::Release);
                        return Err(MembershipError::Left);
                    }
                    errors.push(format!("{addr}: {text}"));
                }
            }
        }
        if joined.is_empty() {
            return Err(MembershipError::NoSeedReachable(errors));
        }
        Ok(JoinView { joined, failed: errors, members: self.memberlist.num_online_members().await })
    }

    fn rebalance(&self) -> RebalanceView {
        let before = self.pm.peer_stats();
        self.pm.plumtree().rebalance_peers();
        let after = self.pm.peer_stats();
        RebalanceView {
            before: PeerCounts { eager: before.eager_count, lazy: before.lazy_count },
            after: PeerCounts { eager: after.eager_count, lazy: after.lazy_count },
        }
    }

    fn refresh_gauges(&self) {
        let s = self.pm.peer_stats();
        memberlist_plumtree::metrics::set_eager_peers(s.eager_count);
        memberlist_plumtree::metrics::set_lazy_peers(s.lazy_count);
        memberlist_plumtree::metrics::set_total_peers(s.eager_count + s.lazy_count);
        memberlist_plumtree::metrics::set_cache_size(self.pm.cache_stats().entries);
    }
}
