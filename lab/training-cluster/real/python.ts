/**
 * The two small Python programs of the real backend, written into the lab
 * directory at start (our code, not RingRift's; both use the standard
 * library only):
 *
 * - {@link INIT_PY}: PID 1 of a node's PID namespace. It mounts a private
 *   tmpfs on `/tmp` and `/dev/shm` (the orchestrator writes fixed paths
 *   there), keeps the directories it is given visible under them (a lab
 *   directory below `/tmp`), says `ready`, and then reaps orphans until it
 *   is killed or its stdin closes (the lab is gone, even SIGKILLed), which
 *   ends every process of the namespace.
 * - {@link PROXY_PY}: the one way in from the machine to a node's
 *   orchestrator. Started in the machine's network namespace, it listens on
 *   127.0.0.1, then enters the node's network namespace (`setns`) and
 *   forwards each HTTP request to the orchestrator there, printing one JSON
 *   line per request (method, path, status, a short body) for the lab's
 *   effect log. The node cannot connect back through it: it only accepts on
 *   the machine's loopback and only connects inside the node.
 *
 * @module
 */

export const INIT_PY = String.raw`
import ctypes, os, signal, sys, time

libc = ctypes.CDLL(None, use_errno=True)
MS_BIND = 4096

def mount(src, dst, fstype, flags, data):
    if libc.mount(src.encode(), dst.encode(), fstype.encode() if fstype else None, flags, data.encode() if data else None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "mount %s on %s: %s" % (src, dst, os.strerror(err)))

keep = [os.path.realpath(p) for p in sys.argv[1:]]
# Open what must stay visible before /tmp is covered; bind it back through the open descriptor.
held = {p: os.open(p, os.O_RDONLY | os.O_DIRECTORY) for p in keep if p == "/tmp" or p.startswith("/tmp/")}
mount("tmpfs", "/tmp", "tmpfs", 0, "size=512m,mode=1777")
mount("tmpfs", "/dev/shm", "tmpfs", 0, "size=64m,mode=1777")
for path, fd in held.items():
    os.makedirs(path, exist_ok=True)
    mount("/proc/self/fd/%d" % fd, path, None, MS_BIND, None)
    os.close(fd)
print("ready", flush=True)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))

def lab_gone():
    # The lab holds our stdin open: EOF means it is gone (even SIGKILLed), and the namespace goes with it.
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)

import threading
threading.Thread(target=lab_gone, daemon=True).start()
while True:
    try:
        os.wait()
    except ChildProcessError:
        time.sleep(0.5)
`;

export const PROXY_PY = String.raw`
import ctypes, http.client, json, os, socket, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

netns, target_port = sys.argv[1], int(sys.argv[2])
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
listener.bind(("127.0.0.1", 0))
listener.listen(64)

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
with open(netns) as f:
    if libc.setns(f.fileno(), CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        sys.stderr.write("setns %s: %s\n" % (netns, os.strerror(err)))
        sys.exit(1)

lock = threading.Lock()
def log(entry):
    with lock:
        sys.stdout.write(json.dumps(entry) + "\n")
        sys.stdout.flush()

HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "host", "content-length"}

class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            up = http.client.HTTPConnection("127.0.0.1", target_port, timeout=120)
            up.request(self.command, self.path, body=body if body else None, headers=headers)
            res = up.getresponse()
            data = res.read()
        except OSError as e:
            # The orchestrator is not there: the caller sees the connection reset, as with a dead node.
            log({"method": self.command, "path": self.path, "error": str(e)})
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            except OSError:
                pass
            return
        self.send_response(res.status, res.reason)
        for k, v in res.getheaders():
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        up.close()
        log({"method": self.command, "path": self.path, "status": res.status, "body": body[:300].decode("utf-8", "replace")})

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = forward

server = ThreadingHTTPServer(("127.0.0.1", 0), Proxy, bind_and_activate=False)
server.socket.close()
server.socket = listener
server.daemon_threads = True
def lab_gone():
    while sys.stdin.buffer.read(65536):
        pass
    os._exit(0)

threading.Thread(target=lab_gone, daemon=True).start()
log({"listening": listener.getsockname()[1]})
server.serve_forever()
`;
