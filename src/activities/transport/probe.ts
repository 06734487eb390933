/**
 * TCP reachability probe: can this worker open a connection to host:port?
 * The runbooks' `nc -z host port` / "is the seed port open", as a result
 * rather than a failure, so that a workflow can decide what an unreachable
 * node means.
 *
 * @module
 */
import * as net from 'node:net';
import { TransportError } from './errors';

/** What a probe found. */
export interface TcpProbeResult {
  /** True when the TCP handshake completed. */
  open: boolean;
  /** Time to connect, when open. */
  latencyMs?: number;
  /** Why not open: `refused`, `timeout`, or `unreachable: <errno code>`. */
  error?: string;
}

/**
 * Opens and immediately closes a TCP connection to `host:port`.
 *
 * Never throws for an unreachable target: refused, timed out and network
 * errors are results. It throws only when the caller's signal aborts
 * (`Cancelled`) or the arguments are invalid (`InvalidArgument`).
 *
 * @param host - host name or IP address
 * @param port - TCP port (1-65535)
 * @param opts - connect deadline and the activity's cancellation signal
 * @returns whether the port is open, with latency or the reason
 * @example
 * const { open, error } = await tcpProbe('10.0.0.7', 7946, { timeoutMs: 2_000 });
 */
export function tcpProbe(
  host: string,
  port: number,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<TcpProbeResult> {
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    return Promise.reject(new TransportError('InvalidArgument', `tcp probe of ${host}: port ${port} is not a TCP port (1-65535)`, false));
  }
  if (!(opts.timeoutMs > 0)) {
    return Promise.reject(new TransportError('InvalidArgument', `tcp probe of ${host}:${port}: timeoutMs must be positive`, false));
  }
  if (opts.signal?.aborted) {
    return Promise.reject(new TransportError('Cancelled', `tcp probe of ${host}:${port} was cancelled`, false));
  }
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host, port });
    let settled = false;
    const finish = (result: TcpProbeResult | TransportError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      if (result instanceof TransportError) reject(result);
      else resolve(result);
    };
    const onAbort = (): void => finish(new TransportError('Cancelled', `tcp probe of ${host}:${port} was cancelled`, false));
    // Our own timer rather than socket.setTimeout: the latter measures
    // inactivity, and DNS lookup time must count against the deadline too.
    const timer = setTimeout(() => finish({ open: false, error: 'timeout' }), opts.timeoutMs);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => finish({ open: true, latencyMs: Math.round(performance.now() - started) }));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? 'unknown';
      if (code === 'ECONNREFUSED') finish({ open: false, error: 'refused' });
      else if (code === 'ETIMEDOUT') finish({ open: false, error: 'timeout' });
      else finish({ open: false, error: `unreachable: ${code}` });
    });
  });
}
