//! The control API over real memberlist-plumtree nodes (MemberlistStack,
//! memberlist over TCP/UDP on 127.0.0.1): joins through the API, the peer
//! view, health, metrics with the library's names, rebalance, and a leave
//! that the library does not let the node undo.

use std::borrow::Cow;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use bytes::{Buf, BufMut};
use http_body_util::BodyExt;
use memberlist::net::NetTransportOptions;
use memberlist::proto::{Data, DataRef, DecodeError, EncodeError};
use memberlist::tokio::{TokioRuntime, TokioSocketAddrResolver, TokioTcp};
use memberlist::{Memberlist, Options};
use memberlist_plumtree::discovery::CheapClone;
use memberlist_plumtree::{IdCodec, MemberlistStack, NoopDelegate, PlumtreeBridge, PlumtreeConfig, PlumtreeDiscovery, PlumtreeNodeDelegate};
use plumtree_control::{router, ControlOptions, PlumtreeNode};
use tower::ServiceExt;

#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Name(Arc<str>);
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl CheapClone for Name {}
impl IdCodec for Name {
    fn encode_id(&self, buf: &mut impl BufMut) {
        buf.put_u32(self.0.len() as u32);
        buf.put_slice(self.0.as_bytes());
    }
    fn decode_id(buf: &mut impl Buf) -> Option<Self> {
        if buf.remaining() < 4 {
            return None;
        }
        let len = buf.get_u32() as usize;
        if buf.remaining() < len {
            return None;
        }
        let mut b = vec![0u8; len];
        buf.copy_to_slice(&mut b);
        String::from_utf8(b).ok().map(|s| Name(Arc::from(s.as_str())))
    }
    fn encoded_id_len(&self) -> usize {
        4 + self.0.len()
    }
}
impl<'a> DataRef<'a, Name> for &'a str {
    fn decode(buf: &'a [u8]) -> Result<(usize, Self), DecodeError> {
        std::str::from_utf8(buf).map(|s| (buf.len(), s)).map_err(|e| DecodeError::Custom(Cow::Owned(e.to_string())))
    }
}
impl Data for Name {
    type Ref<'a> = &'a str;
    fn from_ref(val: Self::Ref<'_>) -> Result<Self, DecodeError> {
        Ok(Name(Arc::from(val)))
    }
    fn encoded_len(&self) -> usize {
        self.0.len()
    }
    fn encode(&self, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let b = self.0.as_bytes();
        if b.len() > buf.len() {
            return Err(EncodeError::InsufficientBuffer { required: b.len(), remaining: buf.len() });
        }
        buf[..b.len()].copy_from_slice(b);
        Ok(b.len())
    }
}

type Transport = memberlist::net::NetTransport<Name, TokioSocketAddrResolver, TokioTcp, TokioRuntime>;
type Stack = MemberlistStack<Name, NoopDelegate, Transport, PlumtreeNodeDelegate<Name, SocketAddr, memberlist::delegate::VoidDelegate<Name, SocketAddr>>>;

const TOKEN: &str = "test-token-0123456789";

fn metrics() -> metrics_exporter_prometheus::PrometheusHandle {
    static H: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    H.get_or_init(|| plumtree_control::install_prometheus().expect("one recorder per test binary")).clone()
}

struct TestNode {
    stack: Arc<Stack>,
    app: Router,
    addr: SocketAddr,
}

async fn node(name: &str) -> TestNode {
    let id = Name(Arc::from(name));
    let pm = Arc::new(PlumtreeDiscovery::new(id.clone(), PlumtreeConfig::lan().with_eager_fanout(1), NoopDelegate));
    let delegate = PlumtreeNodeDelegate::new(
        memberlist::delegate::VoidDelegate::<Name, SocketAddr>::default(),
        pm.incoming_sender(),
        pm.outgoing_receiver(),
        pm.peers().clone(),
        pm.config().eager_fanout,
        pm.config().max_peers,
    );
    let mut t = NetTransportOptions::<Name, TokioSocketAddrResolver, TokioTcp>::new(id);
    t.add_bind_address("127.0.0.1:0".parse().unwrap());
    let opts = Options::local().with_probe_interval(Duration::from_millis(300)).with_gossip_to_the_dead_time(Duration::from_secs(2));
    let ml = Memberlist::with_delegate(delegate, t, opts).await.expect("memberlist starts on 127.0.0.1");
    let addr = *ml.advertise_address();
    let stack = Arc::new(MemberlistStack::new(PlumtreeBridge::new(pm), ml, addr));
    stack.start();
    let target = Arc::new(PlumtreeNode::from_stack(&stack));
    let app = router(target, ControlOptions::new(TOKEN).unwrap().with_metrics(metrics()));
    TestNode { stack, app, addr }
}

async fn call(app: &Router, method: &str, path: &str, body: &str) -> (StatusCode, String) {
    let req = Request::builder().method(method).uri(path).header("authorization", format!("Bearer {TOKEN}")).body(Body::from(body.to_string())).unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    (status, String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap())
}

async fn json(app: &Router, path: &str) -> serde_json::Value {
    let (s, b) = call(app, "GET", path, "").await;
    assert!(s.is_success() || s == StatusCode::SERVICE_UNAVAILABLE, "{path}: {s} {b}");
    serde_json::from_str(&b).unwrap()
}

async fn until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not within 10 s: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_real_nodes_through_the_control_api() {
    let a = node("node-a").await;
    let b = node("node-b").await;
    let c = node("node-c").await;

    // Alone, a node has no peers: the library calls that unhealthy, and the API answers 503.
    let (s, _) = call(&a.app, "GET", "/health", "").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);

    for n in [&b, &c] {
        let (s, body) = call(&n.app, "POST", "/admin/join", &format!("{{\"seeds\": [\"{}\"]}}", a.addr)).await;
        assert_eq!(s, StatusCode::OK, "{body}");
    }
    for n in [&a, &b, &c] {
        until("every node sees three members and two peers", || async {
            let p = json(&n.app, "/debug/peers").await;
            p["members"].as_array().map(|m| m.len()) == Some(3)
                && p["peers"]["eager"].as_array().unwrap().len() + p["peers"]["lazy"].as_array().unwrap().len() == 2
        })
        .await;
    }
    let p = json(&b.app, "/debug/peers").await;
    assert_eq!(p["members"], serde_json::json!(["node-a", "node-b", "node-c"]));

    // Two peers are fewer than the library's min_peers_degraded (3): degraded, still 200.
    let (s, h) = call(&a.app, "GET", "/health", "").await;
    assert_eq!(s, StatusCode::OK, "{h}");
    assert!(h.contains("\"status\":\"degraded\""), "{h}");

    // The gauges, set from peer_stats() before the scrape, say what /debug/peers says.
    let pa = json(&a.app, "/debug/peers").await;
    let (eager, lazy) = (pa["peers"]["eager"].as_array().unwrap().len(), pa["peers"]["lazy"].as_array().unwrap().len());
    let (s, m) = call(&a.app, "GET", "/metrics", "").await;
    assert_eq!(s, StatusCode::OK);
    for line in [format!("plumtree_eager_peers {eager}"), format!("plumtree_lazy_peers {lazy}"), "plumtree_peer_count 2".to_string()] {
        assert!(m.lines().any(|l| l == line), "{line} in\n{m}");
    }
    assert!(!m.contains("plumtree_total_peers"), "the library's metric is plumtree_peer_count");

    let (s, r) = call(&c.app, "POST", "/admin/rebalance", "").await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let r: serde_json::Value = serde_json::from_str(&r).unwrap();
    assert_eq!(r["after"]["eager"].as_u64().unwrap() + r["after"]["lazy"].as_u64().unwrap(), 2, "{r}");

    let y = json(&a.app, "/debug/sync").await;
    assert_eq!(y["enabled"], false, "no SyncConfig: no anti-entropy");
    assert_eq!(y["rootHash"].as_str().unwrap().len(), 64);

    // A leave is final for the process: the others drop the node, and it cannot join again.
    let (s, l) = call(&c.app, "POST", "/admin/leave", "{\"timeoutMs\": 2000}").await;
    assert_eq!(s, StatusCode::OK, "{l}");
    until("node-a drops node-c", || async { json(&a.app, "/debug/peers").await["members"] == serde_json::json!(["node-a", "node-b"]) }).await;
    let (s, j) = call(&c.app, "POST", "/admin/join", &format!("{{\"seeds\": [\"{}\"]}}", a.addr)).await;
    assert_eq!(s, StatusCode::CONFLICT, "{j}");
    assert_eq!(json(&c.app, "/debug/peers").await["left"], true);

    // A seed that does not answer: 502 naming it.
    let (s, e) = call(&b.app, "POST", "/admin/join", "{\"seeds\": [\"127.0.0.1:9\"]}").await;
    assert_eq!(s, StatusCode::BAD_GATEWAY, "{e}");
    assert!(e.contains("127.0.0.1:9"), "{e}");

    for n in [a, b, c] {
        let _ = n.stack.shutdown().await;
    }
}
