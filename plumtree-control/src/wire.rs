//! The JSON bodies of the control API (docs/gossip-contract.md in the
//! Lifeboat repository specifies them). Field names are camelCase on the wire.

use serde::{Deserialize, Serialize};

/// `GET /debug/peers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PeersResponse {
    /// This node's id.
    pub node: String,
    /// Plumtree's eager and lazy peers.
    pub peers: PeersView,
    /// Names of the members memberlist sees online, this node included while it is a member.
    pub members: Vec<String>,
    /// The same members with their memberlist addresses.
    pub member_addresses: Vec<MemberView>,
    /// The node left the cluster (`POST /admin/leave`); it joins again only after a restart.
    pub left: bool,
}

/// Eager and lazy peers, sorted.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct PeersView {
    /// Peers receiving full messages (the broadcast tree).
    pub eager: Vec<String>,
    /// Peers receiving IHave announcements.
    pub lazy: Vec<String>,
}

/// One memberlist member.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MemberView {
    /// Its node id.
    pub name: String,
    /// Its memberlist address (`host:port`).
    pub address: String,
}

/// `GET /health`: the library's `health()` report.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// `healthy`, `degraded` or `unhealthy` (`HealthStatus`).
    pub status: String,
    /// The library's own explanation ("No peers connected", "Operating normally", ...).
    pub message: String,
    /// Peer connectivity.
    pub peers: HealthPeers,
    /// Graft statistics.
    pub delivery: HealthDelivery,
    /// Cache utilisation.
    pub cache: HealthCache,
    /// The protocol is shutting down.
    pub shutdown: bool,
}

/// `HealthReport::peers`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthPeers {
    /// Eager + lazy.
    pub total: usize,
    /// Eager peers.
    pub eager: usize,
    /// Lazy peers.
    pub lazy: usize,
    /// The configured eager fanout.
    pub target_eager: usize,
}

/// `HealthReport::delivery`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthDelivery {
    /// Grafts waiting for an answer.
    pub pending_grafts: usize,
    /// failed / (successful + failed).
    pub graft_failure_rate: f64,
    /// Grafts that got their message.
    pub successful_grafts: u64,
    /// Grafts that gave up.
    pub failed_grafts: u64,
}

/// `HealthReport::cache`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCache {
    /// Messages in the cache.
    pub cached_messages: usize,
    /// Its capacity.
    pub max_capacity: usize,
}

/// `GET /debug/cache`: the in-memory message cache (`cache_stats()`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CacheView {
    /// Messages held.
    pub entries: usize,
    /// Capacity.
    pub capacity: usize,
    /// How long a message stays, in seconds.
    pub ttl_seconds: f64,
}

/// `GET /debug/sync`: anti-entropy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SyncView {
    /// The node runs anti-entropy (`PlumtreeConfig::with_sync(SyncConfig::enabled())`; a configuration, not a runtime switch).
    pub enabled: bool,
    /// The sync handler's root hash over the messages it holds (hex): equal on two nodes holding the same messages.
    pub root_hash: String,
    /// Messages the sync handler tracks.
    pub messages: usize,
    /// Messages in the node's store (`MessageStore::count()`), when it answers.
    pub stored_messages: Option<usize>,
}

/// `POST /admin/join` body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JoinRequest {
    /// Seeds as `ip:port` (memberlist addresses).
    pub seeds: Vec<String>,
}

/// `POST /admin/join` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct JoinView {
    /// Seeds that took the join.
    pub joined: Vec<String>,
    /// Seeds that did not, with the reason.
    pub failed: Vec<String>,
    /// Members online after the join.
    pub members: usize,
}

/// `POST /admin/leave` body (optional).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LeaveRequest {
    /// How long to wait for the leave to reach a member (default 5000 ms, at most 60000).
    pub timeout_ms: Option<u64>,
}

/// Eager and lazy counts.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct PeerCounts {
    /// Eager peers.
    pub eager: usize,
    /// Lazy peers.
    pub lazy: usize,
}

/// `POST /admin/rebalance` answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RebalanceView {
    /// Before `rebalance_peers()`.
    pub before: PeerCounts,
    /// After it.
    pub after: PeerCounts,
}

/// Every refusal: what went wrong and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ErrorBody {
    /// A sentence an operator can act on.
    pub error: String,
}
