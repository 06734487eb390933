//! # plumtree-control
//!
//! The control API Lifeboat speaks to a gossip cluster built on
//! [memberlist-plumtree](https://crates.io/crates/memberlist-plumtree) 0.1.6:
//! an [`axum::Router`] an application mounts in its HTTP server so that an
//! operator (and Lifeboat's recovery workflows) can read the node and act on
//! it with what the library really offers.
//!
//! | route | library call |
//! |---|---|
//! | `GET /debug/peers` | `PeerState::topology()`, `Memberlist::online_members()` |
//! | `GET /health` | `Plumtree::health()` (200 healthy/degraded, 503 unhealthy) |
//! | `GET /metrics` | the library's own `plumtree_*` metrics (Prometheus text) |
//! | `GET /debug/cache` | `cache_stats()` |
//! | `GET /debug/sync` | the sync handler's root hash and counts, `sync_is_enabled()` |
//! | `POST /admin/leave` | `Memberlist::leave(timeout)` |
//! | `POST /admin/join` | `Memberlist::join` through each seed |
//! | `POST /admin/rebalance` | `Plumtree::rebalance_peers()` |
//!
//! Admin calls need `Authorization: Bearer <token>`. The library has no
//! `clear_cache()` and no runtime switch for anti-entropy: those routes
//! answer 501 with what to do instead. The full contract, with each answer
//! and refusal, is `docs/gossip-contract.md` in the Lifeboat repository.
//!
//! ```no_run
//! use std::sync::Arc;
//! # async fn demo<I, PD, T, D>(stack: memberlist_plumtree::MemberlistStack<I, PD, T, D>) -> Result<(), Box<dyn std::error::Error>>
//! # where
//! #   I: plumtree_control::NodeId,
//! #   PD: memberlist_plumtree::PlumtreeDelegate<I> + 'static,
//! #   T: memberlist_plumtree::memberlist::transport::Transport<Id = I> + 'static,
//! #   T::ResolvedAddress: From<std::net::SocketAddr> + std::fmt::Display + Send + Sync,
//! #   D: memberlist_plumtree::memberlist::delegate::Delegate<Id = I, Address = T::ResolvedAddress> + 'static,
//! # {
//! let node = Arc::new(plumtree_control::PlumtreeNode::from_stack(&stack));
//! let opts = plumtree_control::ControlOptions::new(std::env::var("GOSSIP_ADMIN_TOKEN")?)?
//!     .with_metrics(plumtree_control::install_prometheus()?);
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:8080").await?;
//! axum::serve(listener, plumtree_control::router(node, opts)).await?;
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod router;
mod target;
pub mod wire;

pub use router::{bearer_matches, router, AdminEvent, AdminHook, BadToken, ControlOptions, MIN_TOKEN_LEN};
pub use target::{ControlTarget, MembershipError, NodeId, PlumtreeNode};

/// The memberlist-plumtree version this API is written against and proven with.
pub const PLUMTREE_VERSION: &str = "0.1.6";

/// Installs a Prometheus recorder for the process (the library records
/// through the `metrics` facade) and describes the library's metrics.
/// Call once per process; the handle renders `GET /metrics`.
pub fn install_prometheus() -> Result<metrics_exporter_prometheus::PrometheusHandle, metrics_exporter_prometheus::BuildError> {
    let handle = metrics_exporter_prometheus::PrometheusBuilder::new().install_recorder()?;
    memberlist_plumtree::metrics::init_metrics();
    Ok(handle)
}
