//! The HTTP routes (docs/gossip-contract.md): reads open, admin calls behind
//! `Authorization: Bearer <token>`, every refusal a JSON `{"error": ...}`
//! saying what to do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::target::{ControlTarget, MembershipError};
use crate::wire::{ErrorBody, JoinRequest, LeaveRequest, PeersResponse};

/// What an admin call did, for the application's audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminEvent {
    /// `leave`, `join` or `rebalance`.
    pub action: &'static str,
    /// Whether the call changed the node (a leave of a node that had already left did not).
    pub changed: bool,
    /// One line: the seeds joined, the counts before and after.
    pub detail: String,
}

/// Called after every accepted admin call.
pub type AdminHook = Arc<dyn Fn(&AdminEvent) + Send + Sync>;

/// How the router is set up.
#[derive(Clone)]
pub struct ControlOptions {
    token: String,
    metrics: Option<PrometheusHandle>,
    on_admin: Option<AdminHook>,
}

impl std::fmt::Debug for ControlOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is never printed.
        f.debug_struct("ControlOptions").field("metrics", &self.metrics.is_some()).field("on_admin", &self.on_admin.is_some()).finish()
    }
}

/// A refused [`ControlOptions::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadToken(pub String);

impl std::fmt::Display for BadToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadToken {}

/// Shortest admin token accepted.
pub const MIN_TOKEN_LEN: usize = 16;

impl ControlOptions {
    /// Options with the admin bearer token (at least 16 characters, no whitespace).
    pub fn new(token: impl Into<String>) -> Result<Self, BadToken> {
        let token = token.into().trim().to_string();
        if token.len() < MIN_TOKEN_LEN || token.chars().any(char::is_whitespace) {
            return Err(BadToken(format!(
                "the admin token must be at least {MIN_TOKEN_LEN} characters without whitespace (got {}); generate one with `openssl rand -hex 24`",
                token.len()
            )));
        }
        Ok(Self { token, metrics: None, on_admin: None })
    }

    /// Serve `GET /metrics` from this Prometheus recorder (see [`crate::install_prometheus`]).
    pub fn with_metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Call `hook` after every accepted admin call.
    pub fn on_admin(mut self, hook: AdminHook) -> Self {
        self.on_admin = Some(hook);
        self
    }
}

struct Ctx<C> {
    target: Arc<C>,
    opts: ControlOptions,
}

/// The control API over `target`, to mount in the application's HTTP server.
///
/// ```no_run
/// # fn demo<C: plumtree_control::ControlTarget>(node: std::sync::Arc<C>) -> Result<(), Box<dyn std::error::Error>> {
/// let opts = plumtree_control::ControlOptions::new(std::env::var("GOSSIP_ADMIN_TOKEN")?)?
///     .with_metrics(plumtree_control::install_prometheus()?);
/// let app: axum::Router = plumtree_control::router(node, opts);
/// # Ok(()) }
/// ```
pub fn router<C: ControlTarget>(target: Arc<C>, opts: ControlOptions) -> Router {
    let ctx = Arc::new(Ctx { target, opts });
    Router::new()
        .route("/debug/peers", get(peers::<C>))
        .route("/health", get(health::<C>))
        .route("/metrics", get(metrics::<C>))
        .route("/debug/cache", get(cache::<C>))
        .route("/debug/sync", get(sync::<C>))
        .route("/admin/leave", post(leave::<C>))
        .route("/admin/join", post(join::<C>))
        .route("/admin/rebalance", post(rebalance::<C>))
        .route("/admin/cache/clear", post(no_clear_cache::<C>))
        .route("/admin/sync/enable", post(no_sync_enable::<C>))
        .fallback(not_found)
        .with_state(ctx)
}

fn refuse(status: StatusCode, error: impl Into<String>) -> Response {
    (status, Json(ErrorBody { error: error.into() })).into_response()
}

/// Whether `headers` carry `Authorization: Bearer <token>` (compared in constant time).
/// For an application's own routes beside the control API.
pub fn bearer_matches(headers: &HeaderMap, token: &str) -> bool {
    authorized(headers, token)
}

/// Constant-time comparison of the presented bearer token.
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(given) = value.strip_prefix("Bearer ") else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_auth<C>(ctx: &Ctx<C>, headers: &HeaderMap) -> Result<(), Response> {
    if authorized(headers, &ctx.opts.token) {
        Ok(())
    } else {
        Err(refuse(StatusCode::UNAUTHORIZED, "admin calls need `Authorization: Bearer <token>` with the node's admin token"))
    }
}

fn audit<C>(ctx: &Ctx<C>, action: &'static str, changed: bool, detail: String) {
    let event = AdminEvent { action, changed, detail };
    tracing::info!(action = event.action, changed = event.changed, detail = %event.detail, "control API admin call");
    if let Some(hook) = &ctx.opts.on_admin {
        hook(&event);
    }
}

async fn peers<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>) -> Response {
    let members = ctx.target.members().await;
    Json(PeersResponse {
        node: ctx.target.name(),
        peers: ctx.target.peers(),
        members: members.iter().map(|m| m.name.clone()).collect(),
        member_addresses: members,
        left: ctx.target.has_left(),
    })
    .into_response()
}

async fn health<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>) -> Response {
    let h = ctx.target.health();
    // Operational (healthy or degraded) answers 200, so a load balancer keeps a degraded node; unhealthy 503.
    let status = if h.status == "unhealthy" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::OK };
    (status, Json(h)).into_response()
}

async fn metrics<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>) -> Response {
    let Some(handle) = &ctx.opts.metrics else {
        return refuse(StatusCode::NOT_FOUND, "this node exports no metrics: the application did not install a Prometheus recorder (plumtree_control::install_prometheus)");
    };
    ctx.target.refresh_gauges();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
}

async fn cache<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>) -> Response {
    Json(ctx.target.cache()).into_response()
}

async fn sync<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>) -> Response {
    Json(ctx.target.sync().await).into_response()
}

/// An empty body, `{}` or the JSON of `T`.
fn body_of<T: serde::de::DeserializeOwned + Default>(body: &Bytes, shape: &str) -> Result<T, Response> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|e| refuse(StatusCode::BAD_REQUEST, format!("the body must be JSON {shape} ({e})")))
}

const MAX_LEAVE_MS: u64 = 60_000;

async fn leave<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_auth(&ctx, &headers) {
        return r;
    }
    let req: LeaveRequest = match body_of(&body, "{\"timeoutMs\": 5000}") {
        Ok(r) => r,
        Err(r) => return r,
    };
    let ms = req.timeout_ms.unwrap_or(5_000);
    if ms == 0 || ms > MAX_LEAVE_MS {
        return refuse(StatusCode::BAD_REQUEST, format!("timeoutMs must be between 1 and {MAX_LEAVE_MS} (got {ms})"));
    }
    let node = ctx.target.name();
    match ctx.target.leave(Duration::from_millis(ms)).await {
        Ok(changed) => {
            audit(&ctx, "leave", changed, if changed { "left the cluster".into() } else { "had already left".into() });
            Json(serde_json::json!({ "node": node, "left": true, "alreadyLeft": !changed })).into_response()
        }
        // The leave is recorded either way; the broadcast only did not reach a member in time.
        Err(MembershipError::LeaveTimeout(e)) => {
            audit(&ctx, "leave", true, format!("left; the broadcast was not acknowledged: {e}"));
            Json(serde_json::json!({ "node": node, "left": true, "alreadyLeft": false, "warning": e })).into_response()
        }
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("leave failed on {node}: {e}")),
    }
}

async fn join<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = check_auth(&ctx, &headers) {
        return r;
    }
    const SHAPE: &str = "{\"seeds\": [\"10.0.0.1:7946\", ...]}";
    let req: JoinRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("the body must be JSON {SHAPE} ({e})")),
    };
    if req.seeds.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, format!("seeds is empty: give at least one seed as ip:port, {SHAPE}"));
    }
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for s in &req.seeds {
        match s.trim().parse::<SocketAddr>() {
            Ok(a) => addrs.push(a),
            Err(_) => return refuse(StatusCode::BAD_REQUEST, format!("seed {s:?} is not ip:port (memberlist addresses are resolved IPs, e.g. 10.0.0.1:7946)")),
        }
    }
    let node = ctx.target.name();
    match ctx.target.join(addrs).await {
        Ok(view) => {
            audit(&ctx, "join", true, format!("joined via {}", view.joined.join(", ")));
            Json(view).into_response()
        }
        Err(MembershipError::Left) => refuse(StatusCode::CONFLICT, format!("{node} has left the cluster and memberlist does not rejoin after a leave: restart its process to join again")),
        Err(e @ MembershipError::NoSeedReachable(_)) => refuse(
            StatusCode::BAD_GATEWAY,
            format!("{node} could not join: {e}; check that the seeds run and that their memberlist port is reachable from {node}"),
        ),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, format!("join failed on {node}: {e}")),
    }
}

async fn rebalance<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_auth(&ctx, &headers) {
        return r;
    }
    let view = ctx.target.rebalance();
    let changed = view.before != view.after;
    audit(&ctx, "rebalance", changed, format!("eager {}->{}, lazy {}->{}", view.before.eager, view.after.eager, view.before.lazy, view.after.lazy));
    Json(serde_json::json!({ "node": ctx.target.name(), "before": view.before, "after": view.after })).into_response()
}

async fn no_clear_cache<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_auth(&ctx, &headers) {
        return r;
    }
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        "memberlist-plumtree 0.1.6 has no clear_cache(): the message cache is in memory and a restart of the node clears it",
    )
}

async fn no_sync_enable<C: ControlTarget>(State(ctx): State<Arc<Ctx<C>>>, headers: HeaderMap) -> Response {
    if let Err(r) = check_auth(&ctx, &headers) {
        return r;
    }
    refuse(
        StatusCode::NOT_IMPLEMENTED,
        "anti-entropy sync is configuration in memberlist-plumtree 0.1.6 (PlumtreeConfig::with_sync(SyncConfig::enabled())), not a runtime call: enable it in the application and restart; GET /debug/sync says whether it runs",
    )
}

async fn not_found(uri: axum::http::Uri) -> Response {
    refuse(StatusCode::NOT_FOUND, format!("no route {}; the control API serves /debug/peers, /health, /metrics, /debug/cache, /debug/sync and POST /admin/{{leave,join,rebalance}}", uri.path()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{CacheView, HealthCache, HealthDelivery, HealthPeers, HealthView, JoinView, MemberView, PeerCounts, PeersView, RebalanceView, SyncView};
    use axum::body::Body;
    use axum::http::Request;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use tower::ServiceExt;

    const TOKEN: &str = "0123456789abcdef0123";

    /// A node whose answers the test sets, counting what it is asked to do.
    #[derive(Default)]
    struct Fake {
        left: AtomicBool,
        unhealthy: AtomicBool,
        seeds_down: AtomicBool,
        joins: AtomicUsize,
        rebalances: AtomicUsize,
    }

    impl ControlTarget for Fake {
        fn name(&self) -> String {
            "gossip1".into()
        }
        fn peers(&self) -> PeersView {
            PeersView { eager: vec!["gossip2".into()], lazy: vec!["gossip3".into()] }
        }
        async fn members(&self) -> Vec<MemberView> {
            vec![MemberView { name: "gossip1".into(), address: "127.0.0.1:7946".into() }]
        }
        fn health(&self) -> HealthView {
            let bad = self.unhealthy.load(Ordering::SeqCst);
            HealthView {
                status: if bad { "unhealthy" } else { "healthy" }.into(),
                message: if bad { "No peers connected" } else { "Operating normally" }.into(),
                peers: HealthPeers { total: 2, eager: 1, lazy: 1, target_eager: 3 },
                delivery: HealthDelivery { pending_grafts: 0, graft_failure_rate: 0.0, successful_grafts: 0, failed_grafts: 0 },
                cache: HealthCache { cached_messages: 0, max_capacity: 10 },
                shutdown: false,
            }
        }
        fn cache(&self) -> CacheView {
            CacheView { entries: 1, capacity: 10, ttl_seconds: 30.0 }
        }
        async fn sync(&self) -> SyncView {
            SyncView { enabled: true, root_hash: "00".into(), messages: 0, stored_messages: Some(0) }
        }
        fn has_left(&self) -> bool {
            self.left.load(Ordering::SeqCst)
        }
        async fn leave(&self, _t: Duration) -> Result<bool, MembershipError> {
            Ok(!self.left.swap(true, Ordering::SeqCst))
        }
        async fn join(&self, seeds: Vec<SocketAddr>) -> Result<JoinView, MembershipError> {
            if self.has_left() {
                return Err(MembershipError::Left);
            }
            if self.seeds_down.load(Ordering::SeqCst) {
                return Err(MembershipError::NoSeedReachable(seeds.iter().map(|s| format!("{s}: connection refused")).collect()));
            }
            self.joins.fetch_add(1, Ordering::SeqCst);
            Ok(JoinView { joined: seeds.iter().map(|s| s.to_string()).collect(), failed: vec![], members: 3 })
        }
        fn rebalance(&self) -> RebalanceView {
            self.rebalances.fetch_add(1, Ordering::SeqCst);
            RebalanceView { before: PeerCounts { eager: 1, lazy: 1 }, after: PeerCounts { eager: 2, lazy: 0 } }
        }
        fn refresh_gauges(&self) {}
    }

    fn app(fake: Arc<Fake>, events: Option<Arc<std::sync::Mutex<Vec<AdminEvent>>>>) -> Router {
        let mut opts = ControlOptions::new(TOKEN).unwrap();
        if let Some(ev) = events {
            opts = opts.on_admin(Arc::new(move |e: &AdminEvent| ev.lock().unwrap().push(e.clone())));
        }
        router(fake, opts)
    }

    async fn call(app: &Router, method: &str, path: &str, token: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let res = app.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, json)
    }

    #[tokio::test]
    async fn reads_are_open_and_shaped_as_the_contract_says() {
        let app = app(Arc::new(Fake::default()), None);
        let (s, peers) = call(&app, "GET", "/debug/peers", None, "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(peers["node"], "gossip1");
        assert_eq!(peers["peers"]["eager"], serde_json::json!(["gossip2"]));
        assert_eq!(peers["members"], serde_json::json!(["gossip1"]));
        assert_eq!(peers["memberAddresses"][0]["address"], "127.0.0.1:7946");
        assert_eq!(peers["left"], false);
        let (s, h) = call(&app, "GET", "/health", None, "").await;
        assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("healthy")));
        assert_eq!(h["peers"]["targetEager"], 3);
        let (s, c) = call(&app, "GET", "/debug/cache", None, "").await;
        assert_eq!((s, c["ttlSeconds"].as_f64()), (StatusCode::OK, Some(30.0)));
        let (s, y) = call(&app, "GET", "/debug/sync", None, "").await;
        assert_eq!((s, y["enabled"].as_bool(), y["storedMessages"].as_u64()), (StatusCode::OK, Some(true), Some(0)));
    }

    #[tokio::test]
    async fn an_unhealthy_node_answers_503_with_the_report() {
        let fake = Arc::new(Fake::default());
        fake.unhealthy.store(true, Ordering::SeqCst);
        let (s, h) = call(&app(fake, None), "GET", "/health", None, "").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(h["message"], "No peers connected");
    }

    #[tokio::test]
    async fn metrics_without_a_recorder_say_so() {
        let (s, b) = call(&app(Arc::new(Fake::default()), None), "GET", "/metrics", None, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(b["error"].as_str().unwrap().contains("install_prometheus"));
    }

    #[tokio::test]
    async fn admin_calls_need_the_token() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone(), None);
        for path in ["/admin/leave", "/admin/join", "/admin/rebalance", "/admin/cache/clear", "/admin/sync/enable"] {
            let (s, b) = call(&app, "POST", path, None, "{}").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} without a token");
            assert!(b["error"].as_str().unwrap().contains("Bearer"));
            let (s, _) = call(&app, "POST", path, Some("0123456789abcdef0124"), "{}").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a wrong token");
            let (s, _) = call(&app, "POST", path, Some("short"), "{}").await;
            assert_eq!(s, StatusCode::UNAUTHORIZED, "{path} with a token of another length");
        }
        assert_eq!(fake.joins.load(Ordering::SeqCst) + fake.rebalances.load(Ordering::SeqCst), 0);
        assert!(!fake.has_left());
    }

    #[tokio::test]
    async fn join_validates_its_body_and_maps_failures() {
        let fake = Arc::new(Fake::default());
        let app = app(fake.clone(), None);
        for (body, needle) in [
            ("", "must be JSON"),
            ("{}", "must be JSON"),
            ("{\"seeds\": []}", "seeds is empty"),
            ("{\"seeds\": [\"seed1.example.com:7946\"]}", "is not ip:port"),
        ] {
            let (s, b) = call(&app, "POST", "/admin/join", Some(TOKEN), body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
            assert!(b["error"].as_str().unwrap().contains(needle), "{body}: {b}");
        }
        let (s, b) = call(&app, "POST", "/admin/join", Some(TOKEN), "{\"seeds\": [\"10.0.0.1:7946\", \"10.0.0.2:7946\"]}").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["joined"], serde_json::json!(["10.0.0.1:7946", "10.0.0.2:7946"]));
        fake.seeds_down.store(true, Ordering::SeqCst);
        let (s, b) = call(&app, "POST", "/admin/join", Some(TOKEN), "{\"seeds\": [\"10.0.0.1:7946\"]}").await;
        assert_eq!(s, StatusCode::BAD_GATEWAY);
        assert!(b["error"].as_str().unwrap().contains("10.0.0.1:7946: connection refused"), "{b}");
        assert_eq!(fake.joins.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_node_that_left_refuses_to_join_until_restarted() {
        let fake = Arc::new(Fake::default());
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = app(fake.clone(), Some(events.clone()));
        let (s, b) = call(&app, "POST", "/admin/leave", Some(TOKEN), "").await;
        assert_eq!((s, b["alreadyLeft"].as_bool()), (StatusCode::OK, Some(false)));
        let (s, b) = call(&app, "POST", "/admin/leave", Some(TOKEN), "{\"timeoutMs\": 1000}").await;
        assert_eq!((s, b["alreadyLeft"].as_bool()), (StatusCode::OK, Some(true)));
        let (s, b) = call(&app, "POST", "/admin/join", Some(TOKEN), "{\"seeds\": [\"10.0.0.1:7946\"]}").await;
        assert_eq!(s, StatusCode::CONFLICT);
        assert!(b["error"].as_str().unwrap().contains("restart its process"), "{b}");
        let (_, p) = call(&app, "GET", "/debug/peers", None, "").await;
        assert_eq!(p["left"], true);
        let ev = events.lock().unwrap().clone();
        assert_eq!(ev.iter().map(|e| (e.action, e.changed)).collect::<Vec<_>>(), vec![("leave", true), ("leave", false)]);
    }

    #[tokio::test]
    async fn leave_bounds_its_timeout() {
        let app = app(Arc::new(Fake::default()), None);
        for body in ["{\"timeoutMs\": 0}", "{\"timeoutMs\": 600000}", "{\"timeoutMs\": \"soon\"}"] {
            let (s, _) = call(&app, "POST", "/admin/leave", Some(TOKEN), body).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
        }
    }

    #[tokio::test]
    async fn rebalance_reports_before_and_after_and_is_audited() {
        let fake = Arc::new(Fake::default());
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let app = app(fake.clone(), Some(events.clone()));
        let (s, b) = call(&app, "POST", "/admin/rebalance", Some(TOKEN), "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!((b["before"]["eager"].as_u64(), b["after"]["eager"].as_u64()), (Some(1), Some(2)));
        assert_eq!(events.lock().unwrap()[0], AdminEvent { action: "rebalance", changed: true, detail: "eager 1->2, lazy 1->0".into() });
    }

    #[tokio::test]
    async fn what_the_library_lacks_answers_501_with_what_to_do() {
        let app = app(Arc::new(Fake::default()), None);
        let (s, b) = call(&app, "POST", "/admin/cache/clear", Some(TOKEN), "").await;
        assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
        assert!(b["error"].as_str().unwrap().contains("restart of the node clears it"));
        let (s, b) = call(&app, "POST", "/admin/sync/enable", Some(TOKEN), "").await;
        assert_eq!(s, StatusCode::NOT_IMPLEMENTED);
        assert!(b["error"].as_str().unwrap().contains("with_sync"));
        let (s, b) = call(&app, "GET", "/debug/nothing", None, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(b["error"].as_str().unwrap().contains("/debug/peers"));
    }

    #[test]
    fn a_weak_token_is_refused_and_never_printed() {
        assert!(ControlOptions::new("short").is_err());
        assert!(ControlOptions::new("0123456789abcdef 0123").is_err());
        let o = ControlOptions::new(TOKEN).unwrap();
        assert!(!format!("{o:?}").contains(TOKEN));
    }
}
