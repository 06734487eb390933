/**
 * HTTP transport: JSON (and Prometheus text) over the global `fetch`, with a
 * hard deadline, the activity's cancellation signal, and a status mapping
 * that tells Temporal what retrying can fix.
 *
 * | outcome                         | TransportError type | retryable |
 * |---------------------------------|---------------------|-----------|
 * | 401, 403                        | `AuthFailed`        | no        |
 * | 408, 429, 5xx                   | `HttpServerError`   | yes       |
 * | other 4xx (400, 404, 409, ...)  | `HttpClientError`   | no        |
 * | deadline passed                 | `Timeout`           | yes       |
 * | refused, reset, DNS, TLS...     | `Unavailable`       | yes       |
 * | caller's signal aborted         | `Cancelled`         | no        |
 * | 2xx body is not JSON            | `BadResponse`       | no        |
 *
 * The bearer token and the values of credential-bearing headers never appear
 * in messages or details: every text that leaves goes through {@link redact},
 * and URLs lose their `user:password@` part.
 *
 * @module
 */
import { TransportError } from './errors';
import { redact } from './secrets';

/** HTTP methods the recovery procedures use. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** One HTTP request. */
export interface HttpRequest {
  /** Absolute URL, e.g. `http://10.0.0.5:8770/status`. */
  url: string;
  /** Defaults to GET (POST when a body is given). */
  method?: HttpMethod;
  /** Extra headers. Values of `Authorization`, `*-Key`, `*Token*`, `Cookie` headers are treated as secrets. */
  headers?: Record<string, string>;
  /** Resolved bearer token, sent as `Authorization: Bearer <token>`; never echoed. */
  bearer?: string;
  /** Whole-request deadline (connect, headers and body). */
  timeoutMs: number;
  /** The activity's cancellation signal. */
  signal?: AbortSignal;
  /**
   * The secret reference the token came from (e.g. `env:P2P_TOKEN`), named in
   * `AuthFailed` messages so the operator knows which one to check.
   */
  authRef?: string;
  /**
   * Non-2xx statuses that are answers, not failures (a `/health` that says
   * 503 with its report): returned like a 2xx instead of thrown.
   */
  answerStatuses?: number[];
}

/** A JSON request: `body` is serialised with `JSON.stringify`. */
export interface HttpJsonRequest extends HttpRequest {
  body?: unknown;
}

/** Longest excerpt of an error response body kept in a message. */
const EXCERPT_CHARS = 300;
/** Header names whose values are credentials. */
const SECRET_HEADER = /authorization|cookie|token|secret|password|api-?key|-key$|^x-.*key/i;

/**
 * Sends a JSON request and parses the JSON answer.
 *
 * A 2xx answer resolves with its status and parsed body (`null` when the body
 * is empty, e.g. 204). Anything else throws a {@link TransportError} as per
 * the table in the module overview.
 *
 * @param req - URL, method, body, auth and deadline
 * @returns the status and the parsed body
 * @throws TransportError
 * @example
 * const { body } = await httpJson<{ leader_id: string }>({
 *   url: 'http://10.0.0.5:8770/status',
 *   bearer: await resolveSecret('env:P2P_TOKEN'),
 *   timeoutMs: 5_000,
 *   signal: Context.current().cancellationSignal,
 * });
 */
export async function httpJson<T = unknown>(req: HttpJsonRequest): Promise<{ status: number; body: T }> {
  const method = req.method ?? (req.body !== undefined ? 'POST' : 'GET');
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: string | undefined;
  if (req.body !== undefined) {
    payload = JSON.stringify(req.body);
    headers['content-type'] = 'application/json';
  }
  const { status, text } = await send(req, method, headers, payload);
  if (text.trim() === '') return { status, body: null as T };
  try {
    return { status, body: JSON.parse(text) as T };
  } catch {
    throw new TransportError(
      'BadResponse',
      `${method} ${describeUrl(req.url)} -> ${status} but the body is not JSON: ${excerpt(text, secretsOf(req))}; check that the URL points at the service's API, not a proxy or error page`,
      false,
      { method, url: describeUrl(req.url), status },
    );
  }
}

/**
 * Sends a request and returns the body as text (for Prometheus `/metrics`
 * and other plain-text endpoints). Same deadline, cancellation and status
 * mapping as {@link httpJson}; an optional `body` is still sent as JSON.
 *
 * @param req - URL, method, optional JSON body, auth and deadline
 * @returns the status and the body text
 * @throws TransportError
 */
export async function httpText(req: HttpJsonRequest): Promise<{ status: number; body: string }> {
  const method = req.method ?? (req.body !== undefined ? 'POST' : 'GET');
  const headers: Record<string, string> = { accept: 'text/plain, */*' };
  let payload: string | undefined;
  if (req.body !== undefined) {
    payload = JSON.stringify(req.body);
    headers['content-type'] = 'application/json';
  }
  const { status, text } = await send(req, method, headers, payload);
  return { status, body: text };
}

/** One sample of a Prometheus text exposition. */
export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text exposition format, enough to read gauges and
 * counters: `name{label="v",...} value [timestamp]`. Comment (`#`) and blank
 * lines are skipped; label values are unescaped (`\\`, `\"`, `\n`); `NaN`,
 * `+Inf` and `-Inf` are understood; lines that do not parse are skipped
 * rather than failing the whole scrape.
 *
 * @param text - the body of a `/metrics` response
 * @returns one entry per sample line, in order
 * @example
 * parsePrometheus('ledger_commit_index{node="n1"} 42\n')
 * // [{ name: 'ledger_commit_index', labels: { node: 'n1' }, value: 42 }]
 */
export function parsePrometheus(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const sample = parseSampleLine(line);
    if (sample) out.push(sample);
  }
  return out;
}

// ------------------------------------------------------------------ internals

function parseSampleLine(line: string): PromSample | undefined {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return undefined;
  const name = nameMatch[0];
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === '{') {
    i++;
    for (;;) {
      while (line[i] === ' ' || line[i] === ',') i++;
      if (line[i] === '}') {
        i++;
        break;
      }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!key) return undefined;
      i += key[0].length;
      while (line[i] === ' ') i++;
      if (line[i] !== '=') return undefined;
      i++;
      while (line[i] === ' ') i++;
      if (line[i] !== '"') return undefined;
      i++;
      let value = '';
      for (;;) {
        const c = line[i];
        if (c === undefined) return undefined;
        if (c === '\\') {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : (next ?? '');
          i += 2;
          continue;
        }
        if (c === '"') {
          i++;
          break;
        }
        value += c;
        i++;
      }
      labels[key[0]] = value;
    }
  }
  const rest = line.slice(i).trim().split(/\s+/);
  const valueText = rest[0];
  if (valueText === undefined || valueText === '') return undefined;
  const value = parsePromNumber(valueText);
  if (value === undefined) return undefined;
  return { name, labels, value };
}

function parsePromNumber(text: string): number | undefined {
  if (text === 'NaN') return NaN;
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  const n = Number(text);
  return Number.isNaN(n) ? undefined : n;
}

/** Performs the request and maps every failure; resolves only for 2xx. */
async function send(
  req: HttpRequest,
  method: HttpMethod,
  baseHeaders: Record<string, string>,
  payload: string | undefined,
): Promise<{ status: number; text: string }> {
  const secrets = secretsOf(req);
  const where = `${method} ${describeUrl(req.url)}`;
  const details = { method, url: describeUrl(req.url) };
  if (!(req.timeoutMs > 0)) {
    throw new TransportError('InvalidArgument', `${where}: timeoutMs must be a positive number of milliseconds`, false, details);
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(req.url);
  } catch {
    // Not echoed: a malformed URL may still carry credentials.
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new TransportError('InvalidArgument', `${method} <invalid URL>: expected an absolute http:// or https:// URL; fix the URL in the inventory`, false, { method });
  }
  if (parsed.username || parsed.password) {
    // fetch refuses them anyway; say why, without echoing them.
    throw new TransportError(
      'InvalidArgument',
      `${where}: the URL carries user:password@ credentials; remove them and pass the credential as a header from a secret reference`,
      false,
      details,
    );
  }
  if (req.signal?.aborted) {
    throw new TransportError('Cancelled', `${where} was cancelled before it was sent`, false, details);
  }
  const timeout = AbortSignal.timeout(req.timeoutMs);
  const signal = req.signal ? AbortSignal.any([timeout, req.signal]) : timeout;
  const headers: Record<string, string> = { 'user-agent': 'lifeboat', ...baseHeaders, ...req.headers };
  if (req.bearer !== undefined) headers.authorization = `Bearer ${req.bearer}`;

  let status: number;
  let text: string;
  try {
    const res = await fetch(req.url, { method, headers, body: payload, signal });
    status = res.status;
    // The signal also bounds the body read: a server that sends headers and
    // then stalls still hits the deadline.
    text = await res.text();
  } catch (err) {
    throw mapFetchError(err, { where, details, timeoutMs: req.timeoutMs, timeout, caller: req.signal, secrets });
  }

  if ((status >= 200 && status < 300) || req.answerStatuses?.includes(status)) return { status, text };
  const body = excerpt(text, secrets);
  const statusDetails = { ...details, status };
  if (status === 401 || status === 403) {
    const ref = req.authRef ? ` (${req.authRef})` : '';
    throw new TransportError(
      'AuthFailed',
      `${where} -> ${status}: the server refused the credentials; check the token reference${ref} for this target in the inventory and that its value on the worker is current${body ? ` (server said: ${body})` : ''}`,
      false,
      statusDetails,
    );
  }
  if (status === 408 || status === 429 || status >= 500) {
    throw new TransportError(
      'HttpServerError',
      `${where} -> ${status}${body ? `: ${body}` : ''}; the service is failing or overloaded, the call will be retried`,
      true,
      statusDetails,
    );
  }
  throw new TransportError(
    'HttpClientError',
    `${where} -> ${status}${body ? `: ${body}` : ''}; the request was rejected, retrying will not help: check the inventory (URL, names) and the service's API version`,
    false,
    statusDetails,
  );
}

interface FetchFailureContext {
  where: string;
  details: Record<string, unknown>;
  timeoutMs: number;
  timeout: AbortSignal;
  caller?: AbortSignal;
  secrets: string[];
}

function mapFetchError(err: unknown, ctx: FetchFailureContext): TransportError {
  const { where, details } = ctx;
  // Caller first: when both fired, the activity is being cancelled anyway.
  if (ctx.caller?.aborted) {
    return new TransportError('Cancelled', `${where} was cancelled`, false, details);
  }
  if (ctx.timeout.aborted) {
    return new TransportError(
      'Timeout',
      `${where} got no complete answer within ${ctx.timeoutMs} ms; the service may be overloaded or partitioned, the call will be retried`,
      true,
      details,
    );
  }
  const code = errorCode(err);
  const reason = redact(code ?? (err instanceof Error ? err.message : String(err)), ctx.secrets);
  const hint =
    code === 'ECONNREFUSED'
      ? 'nothing is listening there: check that the service is running and the URL/port in the inventory'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'the host name does not resolve from this worker: check DNS and the inventory'
        : 'the connection failed: check that the service is up and reachable from this worker';
  return new TransportError('Unavailable', `${where} failed (${reason}); ${hint}`, true, { ...details, code });
}

/** Finds a system error code in fetch's `TypeError: fetch failed` cause chain. */
function errorCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let depth = 0; depth < 5 && cur && typeof cur === 'object'; depth++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const nested = (cur as { errors?: unknown[] }).errors; // AggregateError (happy eyeballs)
    if (Array.isArray(nested) && nested.length > 0) {
      cur = nested[0];
      continue;
    }
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Every credential this request carries, for {@link redact}. */
function secretsOf(req: HttpRequest): string[] {
  const out: string[] = [];
  if (req.bearer) out.push(req.bearer);
  for (const [name, value] of Object.entries(req.headers ?? {})) {
    if (SECRET_HEADER.test(name)) {
      out.push(value);
      // "Bearer xyz" / "Basic xyz": the credential part alone may be echoed too.
      const token = value.split(' ').slice(1).join(' ');
      if (token) out.push(token);
    }
  }
  try {
    const u = new URL(req.url);
    if (u.password) out.push(decodeURIComponent(u.password));
  } catch {
    // An invalid URL fails in fetch and is reported there.
  }
  return out;
}

/** The URL without `user:password@`, safe to print. */
function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '<invalid URL>';
  }
}

/** A one-line, bounded, redacted excerpt of a response body. */
function excerpt(text: string, secrets: string[]): string {
  const flat = redact(text, secrets).replace(/\s+/g, ' ').trim();
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS)}…` : flat;
}
