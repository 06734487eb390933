//! `plumtree-node`: a real memberlist-plumtree 0.1.6 node (memberlist over
//! TCP/UDP, plumtree broadcast, optional anti-entropy sync and sled
//! storage) with Lifeboat's control API mounted: the gossip cluster of
//! Lifeboat's lab and conformance suite, and an example of embedding
//! `plumtree-control` in an application.
//!
//! ```text
//! plumtree-node --name gossip1 --bind 10.213.0.11:7946 --http 127.0.0.1:18301 \
//!   --token-file /etc/plumtree/token [--seeds 10.213.0.11:7946,10.213.0.12:7946] \
//!   [--storage sled --data-dir /var/lib/plumtree/data] [--sync] [--profile lab] \
//!   [--netns /run/netns/NAME]
//! ```
//!
//! - The control API (and the application's own `/app/broadcast`,
//!   `/app/messages`) listens on `--http`. With `--netns`, that socket is
//!   bound first, then the process enters the network namespace, where
//!   memberlist binds `--bind`: the gossip traffic lives in the namespace,
//!   the control API on the host's loopback.
//! - With `--storage sled`, messages persist in `<data-dir>/cache` (the
//!   library's `SledStore`). A store that cannot be opened or read back is
//!   fatal (exit 3): a node must not serve a corrupted message store.
//! - At start the node joins through the seeds (its own address skipped),
//!   retrying for `--join-timeout` seconds; a seed that finds no other seed
//!   runs alone until others join it.
//! - Lines on stdout for whoever runs it: `LIFEBOAT-READY {json}` once it
//!   serves, `LIFEBOAT-EFFECT {json}` after each accepted admin call.
//!   Logs go to stderr.
//! - SIGTERM/SIGINT: a graceful leave (2 s), shutdown, storage flushed, exit 0.
//! - With `--exit-on-panic` (or `PLUMTREE_NODE_EXIT_ON_PANIC=1`), a panic once
//!   the node serves exits 75 at once. A task of memberlist that
//!   panicked is gone for good while the process lives on: memberlist-core
//!   0.7.0 panics (index out of bounds, `state.rs`) on a member index it left
//!   stale when it removed dead members, and if that was its packet handler,
//!   the node no longer takes alive, suspect, dead or plumtree messages: the
//!   others declare it dead, it sees none of them, and no join repairs it.
//!   Only a new process has a sound member list; the unit restarts it
//!   (`RestartForceExitStatus=75`, docs/gossip.md).
//! - `PLUMTREE_NODE_FAILPOINT=panic-after-ready:NAME:MS`: the node named NAME
//!   panics MS milliseconds after it serves, every time it starts (how the
//!   lab's tests exercise the above; nothing else reads it).
//!
//! Exit codes: 0 after a graceful stop, 2 bad arguments or environment, 3 the
//! message store is corrupted, 4 the node could not start, 75 a task panicked
//! while the node served (with `--exit-on-panic`; restart it).

mod id;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use id::Name;
use memberlist::net::NetTransportOptions;
use memberlist::tokio::{TokioRuntime, TokioTcp};
use memberlist::{Memberlist, Options as MemberlistOptions};
use memberlist_plumtree::storage::{MemoryStore, MessageStore, SledStore};
use memberlist_plumtree::{MessageId, PlumtreeConfig, PlumtreeDelegate, PlumtreeDiscovery, PlumtreeNodeDelegate, SyncConfig};
use memberlist::tokio::TokioSocketAddrResolver;
use parking_lot::Mutex;
use plumtree_control::{AdminEvent, ControlOptions, PlumtreeNode};

fn fail(code: i32, msg: impl AsRef<str>) -> ! {
    eprintln!("plumtree-node: {}", msg.as_ref());
    std::process::exit(code);
}

#[derive(Debug, Clone)]
struct Args {
    name: String,
    bind: SocketAddr,
    http: SocketAddr,
    seeds: Vec<SocketAddr>,
    token_file: PathBuf,
    data_dir: Option<PathBuf>,
    sled: bool,
    sync: bool,
    lab: bool,
    netns: Option<PathBuf>,
    eager_fanout: usize,
    join_timeout: Duration,
    exit_on_panic: bool,
}

const USAGE: &str = "usage: plumtree-node --name NAME --bind IP:PORT --http IP:PORT --token-file PATH \
[--seeds IP:PORT,...] [--storage memory|sled] [--data-dir DIR] [--sync] [--profile lan|lab] \
[--netns PATH] [--eager-fanout N] [--join-timeout SECONDS] [--exit-on-panic]";

fn parse_args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        name: String::new(),
        bind: "0.0.0.0:0".parse().unwrap(),
        http: "127.0.0.1:0".parse().unwrap(),
        seeds: vec![],
        token_file: PathBuf::new(),
        data_dir: None,
        sled: false,
        sync: false,
        lab: false,
        netns: None,
        eager_fanout: 3,
        join_timeout: Duration::from_secs(30),
        exit_on_panic: std::env::var("PLUMTREE_NODE_EXIT_ON_PANIC").is_ok_and(|v| v == "1"),
    };
    let mut have = (false, false, false);
    while let Some(flag) = it.next() {
        let mut value = |what: &str| it.next().unwrap_or_else(|| fail(2, format!("{flag} needs {what}; {USAGE}")));
        let addr = |v: String, flag: &str| v.parse::<SocketAddr>().unwrap_or_else(|_| fail(2, format!("{flag} {v:?} is not IP:PORT")));
        match flag.as_str() {
            "--name" => a.name = value("a name"),
            "--bind" => {
                a.bind = addr(value("IP:PORT"), "--bind");
                have.0 = true;
            }
            "--http" => {
                a.http = addr(value("IP:PORT"), "--http");
                have.1 = true;
            }
            "--seeds" => {
                a.seeds = value("IP:PORT,...").split(',').map(str::trim).filter(|s| !s.is_empty()).map(|s| addr(s.to_string(), "--seeds")).collect()
            }
            "--token-file" => {
                a.token_file = PathBuf::from(value("a path"));
                have.2 = true;
            }
            "--data-dir" => a.data_dir = Some(PathBuf::from(value("a directory"))),
            "--storage" => match value("memory or sled").as_str() {
                "memory" => a.sled = false,
                "sled" => a.sled = true,
                other => fail(2, format!("--storage must be memory or sled (got {other:?})")),
            },
            "--sync" => a.sync = true,
            "--exit-on-panic" => a.exit_on_panic = true,
            "--profile" => match value("lan or lab").as_str() {
                "lan" => a.lab = false,
                "lab" => a.lab = true,
                other => fail(2, format!("--profile must be lan or lab (got {other:?})")),
            },
            "--netns" => a.netns = Some(PathBuf::from(value("a namespace path"))),
            "--eager-fanout" => a.eager_fanout = value("a number").parse().unwrap_or_else(|_| fail(2, "--eager-fanout must be a number")),
            "--join-timeout" => a.join_timeout = Duration::from_secs(value("seconds").parse().unwrap_or_else(|_| fail(2, "--join-timeout must be whole seconds"))),
            "--help" | "-h" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => fail(2, format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    if a.name.is_empty() || !a.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.') {
        fail(2, format!("--name is required: letters, digits, '-', '_' or '.'; {USAGE}"));
    }
    if !have.0 || !have.1 || !have.2 {
        fail(2, format!("--bind, --http and --token-file are required; {USAGE}"));
    }
    if a.sled && a.data_dir.is_none() {
        fail(2, "--storage sled needs --data-dir (the store lives in <data-dir>/cache)");
    }
    a
}

/// Enters the network namespace at `path` (before any thread exists, so the whole process lives there).
fn enter_netns(path: &std::path::Path) {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path).unwrap_or_else(|e| fail(2, format!("cannot open network namespace {}: {e}", path.display())));
    // SAFETY: setns on an fd we own; the process is still single-threaded.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc != 0 {
        fail(2, format!("cannot enter network namespace {}: {} (needs CAP_SYS_ADMIN)", path.display(), std::io::Error::last_os_error()));
    }
}

fn main() {
    let args = parse_args();
    let token = std::fs::read_to_string(&args.token_file).unwrap_or_else(|e| fail(2, format!("cannot read --token-file {}: {e}", args.token_file.display())));
    let opts = ControlOptions::new(token.trim()).unwrap_or_else(|e| fail(2, format!("--token-file {}: {e}", args.token_file.display())));
    // The control API's socket first, in the namespace we were started in.
    let http = std::net::TcpListener::bind(args.http).unwrap_or_else(|e| fail(4, format!("cannot listen on --http {}: {e}", args.http)));
    http.set_nonblocking(true).unwrap_or_else(|e| fail(4, format!("--http {}: {e}", args.http)));
    *HTTP.lock() = Some(http);
    if let Some(ns) = &args.netns {
        enter_netns(ns);
    }
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(false).with_target(false).with_max_level(tracing::Level::INFO).init();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap_or_else(|e| fail(4, format!("tokio runtime: {e}")));
    let code = rt.block_on(async move {
        let opts = opts.with_metrics(plumtree_control::install_prometheus().unwrap_or_else(|e| fail(4, format!("metrics recorder: {e}"))));
        if args.sled {
            let dir = args.data_dir.clone().unwrap().join("cache");
            let store = match SledStore::open(&dir) {
                Ok(s) => Arc::new(s),
                Err(e) => fail(3, format!("message store {} cannot be opened ({e}): it is corrupted; stop the node, clear the directory, start it again", dir.display())),
            };
            run(args, opts, token, store).await
        } else {
            run(args, opts, token, Arc::new(MemoryStore::new(100_000))).await
        }
    });
    std::process::exit(code);
}

/// The application: it keeps what it received (the "state" the cluster replicates).
#[derive(Default)]
struct App {
    messages: Mutex<Vec<String>>,
}

#[derive(Clone)]
struct AppDelegate(Arc<App>);

impl PlumtreeDelegate<Name> for AppDelegate {
    fn on_deliver(&self, _id: MessageId, payload: bytes::Bytes) {
        self.0.messages.lock().push(String::from_utf8_lossy(&payload).into_owned());
    }
}

/// memberlist's reliable channel as plumtree's unicast transport (what `MemberlistStack::start` does).
struct MemberlistUnicast<T: memberlist::transport::Transport<Id = Name>, D: memberlist::delegate::Delegate<Id = Name, Address = T::ResolvedAddress>> {
    ml: Memberlist<T, D>,
}

impl<T: memberlist::transport::Transport<Id = Name>, D: memberlist::delegate::Delegate<Id = Name, Address = T::ResolvedAddress>> Clone for MemberlistUnicast<T, D> {
    fn clone(&self) -> Self {
        Self { ml: self.ml.clone() }
    }
}

#[derive(Debug)]
struct SendError(String);
impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SendError {}

impl<T, D> memberlist_plumtree::Transport<Name> for MemberlistUnicast<T, D>
where
    T: memberlist::transport::Transport<Id = Name> + 'static,
    D: memberlist::delegate::Delegate<Id = Name, Address = T::ResolvedAddress> + 'static,
{
    type Error = SendError;

    fn send_to(&self, target: &Name, data: bytes::Bytes) -> impl std::future::Future<Output = Result<(), SendError>> + Send {
        let ml = self.ml.clone();
        let target = target.clone();
        async move {
            let members = ml.online_members().await;
            match members.iter().find(|m| m.id() == &target) {
                Some(m) => ml.send_reliable(m.address(), data).await.map_err(|e| SendError(e.to_string())),
                None => Err(SendError(format!("{target} is not an online member"))),
            }
        }
    }
}

type Transport = memberlist::net::NetTransport<Name, TokioSocketAddrResolver, TokioTcp, TokioRuntime>;
type MlDelegate = PlumtreeNodeDelegate<Name, SocketAddr, memberlist::delegate::VoidDelegate<Name, SocketAddr>>;

fn emit(kind: &str, value: serde_json::Value) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "LIFEBOAT-{kind} {value}");
    let _ = out.flush();
}

async fn run<S: MessageStore + 'static>(args: Args, opts: ControlOptions, token: String, store: Arc<S>) -> i32 {
    let name = Name::new(&args.name);
    let app = Arc::new(App::default());

    // What the store holds must read back whole: a corrupted store is not served.
    let mut stored: Vec<(MessageId, bytes::Bytes)> = Vec::new();
    match store.get_range(0, u64::MAX, usize::MAX, 0).await {
        Ok((ids, _)) => {
            for id in ids {
                match store.get(&id).await {
                    Ok(Some(m)) => stored.push((id, m.payload)),
                    Ok(None) => {}
                    Err(e) => fail(3, format!("message store: record {id:?} is unreadable ({e}): the store is corrupted; stop the node, clear its cache directory, start it again")),
                }
            }
        }
        Err(e) => fail(3, format!("message store cannot be read ({e}): it is corrupted; stop the node, clear its cache directory, start it again")),
    }

    let mut config = PlumtreeConfig::lan().with_eager_fanout(args.eager_fanout);
    if args.lab {
        config = config.with_graft_timeout(Duration::from_millis(300)).with_ihave_interval(Duration::from_millis(100));
    }
    if args.sync {
        let interval = if args.lab { Duration::from_secs(2) } else { Duration::from_secs(30) };
        config = config.with_sync(SyncConfig::enabled().with_sync_interval(interval).with_sync_window(Duration::from_secs(24 * 3600)));
    }
    let pm = Arc::new(PlumtreeDiscovery::with_storage(name.clone(), config, AppDelegate(app.clone()), store.clone()));
    // The sync handler starts empty: give it (and the application) what the store kept.
    pm.sync_handler().rebuild_from_messages(stored.iter().map(|(id, p)| (*id, p.as_ref())));
    app.messages.lock().extend(stored.iter().map(|(_, p)| String::from_utf8_lossy(p.get(1..).unwrap_or_default()).into_owned()));

    let delegate: MlDelegate = PlumtreeNodeDelegate::new(
        memberlist::delegate::VoidDelegate::<Name, SocketAddr>::default(),
        pm.incoming_sender(),
        pm.outgoing_receiver(),
        pm.peers().clone(),
        pm.config().eager_fanout,
        pm.config().max_peers,
    );
    let mut topts = NetTransportOptions::<Name, TokioSocketAddrResolver, TokioTcp>::new(name.clone());
    topts.add_bind_address(args.bind);
    let mopts = if args.lab {
        // Faster failure detection than a LAN's, so that a lab fault shows within seconds.
        // Dead members are kept (and gossiped to) for 15 s, longer than declaring the
        // others dead takes: memberlist-core 0.7.0 removes them with a swap that leaves
        // a live member's index stale (state.rs move_dead_nodes), and a suspicion of
        // that member then panics (suspicion.rs:84, index out of bounds), leaving it a
        // member for good. With 3 s, an isolated node hit it about one run in five.
        MemberlistOptions::local()
            .with_probe_interval(Duration::from_millis(500))
            .with_probe_timeout(Duration::from_millis(250))
            .with_suspicion_mult(2)
            .with_gossip_to_the_dead_time(Duration::from_secs(15))
            .with_push_pull_interval(Duration::from_secs(5))
    } else {
        MemberlistOptions::lan()
    };
    let ml: Memberlist<Transport, MlDelegate> = match Memberlist::with_delegate(delegate, topts, mopts).await {
        Ok(m) => m,
        Err(e) => fail(4, format!("memberlist cannot start on --bind {}: {e}", args.bind)),
    };

    {
        let pm = pm.clone();
        let t = MemberlistUnicast { ml: ml.clone() };
        tokio::spawn(async move { pm.run_with_transport(t).await });
    }
    {
        let pm = pm.clone();
        tokio::spawn(async move { pm.run_incoming_processor().await });
    }

    let node = Arc::new(PlumtreeNode::new(pm.clone(), ml.clone()));
    let opts = opts.on_admin(Arc::new(|e: &AdminEvent| {
        emit("EFFECT", serde_json::json!({ "action": e.action, "changed": e.changed, "detail": e.detail }));
    }));
    let state = Arc::new(AppState { pm: pm.clone(), app: app.clone(), token });
    let routes = plumtree_control::router(node.clone(), opts).merge(
        Router::new().route("/app/broadcast", post(broadcast::<S>)).route("/app/messages", get(messages::<S>)).with_state(state),
    );
    let listener = tokio::net::TcpListener::from_std(args.http_listener()).unwrap_or_else(|e| fail(4, format!("--http: {e}")));
    let http_addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut rx = stop_rx;
        let _ = axum::serve(listener, routes).with_graceful_shutdown(async move { let _ = rx.changed().await; }).await;
    });

    // Join through the seeds (not ourselves), retrying while the others start.
    let seeds: Vec<SocketAddr> = args.seeds.iter().copied().filter(|s| *s != args.bind).collect();
    if !seeds.is_empty() {
        let node = node.clone();
        let timeout = args.join_timeout;
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            loop {
                match plumtree_control::ControlTarget::join(&*node, seeds.clone()).await {
                    Ok(v) => {
                        tracing::info!(joined = ?v.joined, "joined the cluster");
                        break;
                    }
                    Err(e) if tokio::time::Instant::now() < deadline => {
                        tracing::debug!(error = %e, "join failed, retrying");
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "no seed answered; running alone until a node joins this one");
                        break;
                    }
                }
            }
        });
    }
    if args.exit_on_panic {
        exit_on_panic();
    }
    failpoint(&args.name);
    emit("READY", serde_json::json!({ "name": args.name, "http": http_addr, "bind": args.bind.to_string(), "storage": if args.sled { "sled" } else { "memory" }, "sync": args.sync }));

    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    tracing::info!("stopping: leaving the cluster");
    let _ = plumtree_control::ControlTarget::leave(&*node, Duration::from_secs(2)).await;
    let _ = stop_tx.send(true);
    pm.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(3), ml.shutdown()).await;
    let _ = tokio::time::timeout(Duration::from_secs(3), server).await;
    drop(store);
    0
}

/// Exit code of a node that must be restarted: a task panicked (EX_TEMPFAIL).
const EXIT_PANICKED: i32 = 75;

/// From now on a panic in any task ends the process with [`EXIT_PANICKED`]
/// after the usual panic message: a tokio task that panics dies alone, and a
/// node missing one of memberlist's tasks serves a membership it can no
/// longer maintain (see the module docs).
fn exit_on_panic() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        eprintln!(
            "plumtree-node: a task panicked ({}); the membership state can no longer be trusted: exiting {EXIT_PANICKED} so that the unit restarts this node",
            info.location().map(|l| format!("at {}:{}", l.file(), l.line())).unwrap_or_else(|| "at an unknown place".into())
        );
        std::process::exit(EXIT_PANICKED);
    }));
}

/// `PLUMTREE_NODE_FAILPOINT=panic-after-ready:NAME:MS` (see the module docs).
fn failpoint(name: &str) {
    let Ok(spec) = std::env::var("PLUMTREE_NODE_FAILPOINT") else { return };
    let mut parts = spec.splitn(3, ':');
    let (Some("panic-after-ready"), Some(who), Some(ms)) = (parts.next(), parts.next(), parts.next()) else {
        fail(2, format!("PLUMTREE_NODE_FAILPOINT must be panic-after-ready:NAME:MS (got {spec:?})"));
    };
    if who != name {
        return;
    }
    let ms: u64 = ms.parse().unwrap_or_else(|_| fail(2, format!("PLUMTREE_NODE_FAILPOINT: {ms:?} is not a number of milliseconds")));
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        panic!("failpoint panic-after-ready fired after {ms} ms");
    });
}

impl Args {
    fn http_listener(&self) -> std::net::TcpListener {
        HTTP.lock().take().unwrap_or_else(|| fail(4, "the --http listener was not bound"))
    }
}

static HTTP: Mutex<Option<std::net::TcpListener>> = Mutex::new(None);

struct AppState<S: MessageStore + 'static> {
    pm: Arc<PlumtreeDiscovery<Name, AppDelegate, S>>,
    app: Arc<App>,
    token: String,
}

async fn broadcast<S: MessageStore + 'static>(State(st): State<Arc<AppState<S>>>, headers: HeaderMap, body: Bytes) -> Response {
    if !plumtree_control::bearer_matches(&headers, st.token.trim()) {
        return (StatusCode::UNAUTHORIZED, Json(serde_json::json!({ "error": "needs Authorization: Bearer <token>" }))).into_response();
    }
    #[derive(serde::Deserialize)]
    struct Req {
        text: String,
    }
    let req: Req = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": format!("the body must be JSON {{\"text\": \"...\"}} ({e})") }))).into_response(),
    };
    match st.pm.broadcast(bytes::Bytes::from(req.text.clone().into_bytes())).await {
        Ok(id) => {
            st.app.messages.lock().push(req.text);
            Json(serde_json::json!({ "id": format!("{id:?}") })).into_response()
        }
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": format!("broadcast failed: {e}") }))).into_response(),
    }
}

async fn messages<S: MessageStore + 'static>(State(st): State<Arc<AppState<S>>>) -> Response {
    let mut m = st.app.messages.lock().clone();
    m.sort();
    m.dedup();
    Json(serde_json::json!({ "messages": m })).into_response()
}
