/**
 * The program behind every lab shim: `node shim-client.js <tool> [args...]`.
 *
 * Sends the invocation to the lab (`POST $LAB_CONTROL/shim`), prints the
 * answer and exits with its code. When the lab answers `passthrough`, runs
 * the real tool (first match on PATH that is not a lab shim) with stdio
 * inherited. Deliberately dependency-free: it starts on every shimmed call.
 *
 * Exit codes of its own: 125 when the lab cannot be reached or answers
 * garbage, 127 when a passthrough tool does not exist.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';

interface ShimAnswer {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  passthrough?: { argv?: string[] };
}

/** How long a shim waits for the lab's answer. */
const SHIM_TIMEOUT_MS = 600_000;

function post(url: string, body: unknown, timeoutMs: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = request(
      url,
      { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': data.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

/** True when the file is one of our shims (so passthrough never loops back into the lab). */
function isShim(path: string): boolean {
  try {
    const fd = openSync(path, 'r');
    try {
      const buf = Buffer.alloc(200);
      const n = readSync(fd, buf, 0, buf.length, 0);
      return buf.subarray(0, n).toString('utf8').includes('Lifeboat lab shim');
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

function realTool(tool: string): string | undefined {
  const dirs = (process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin').split(':').filter(Boolean);
  for (const dir of dirs) {
    const p = join(dir, tool);
    try {
      if (existsSync(p) && statSync(p).isFile() && !isShim(p)) return p;
    } catch {
      /* unreadable dir entry: keep looking */
    }
  }
  return undefined;
}

function finish(stdout: string, stderr: string, code: number): void {
  process.stdout.write(stdout, () => process.stderr.write(stderr, () => process.exit(code)));
}

async function run(): Promise<void> {
  const [tool, ...argv] = process.argv.slice(2);
  const control = process.env.LAB_CONTROL;
  if (!tool || !control) {
    finish('', 'lab shim: missing tool name or LAB_CONTROL; this program is run by the lab\'s shims only\n', 125);
    return;
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && (k.startsWith('INFERADB__') || k.startsWith('LAB_'))) env[k] = v;
  }
  let answer: ShimAnswer;
  try {
    const res = await post(
      `${control.replace(/\/$/, '')}/shim`,
      { cluster: process.env.LAB_CLUSTER, node: process.env.LAB_NODE, tool, argv, env, cwd: process.cwd() },
      // As long as the simulated command may run: a real ledger drains for 30 s on `systemctl stop`,
      // `kubectl rollout status --timeout=...` waits minutes. The caller's own timeout bounds it.
      SHIM_TIMEOUT_MS,
    );
    answer = JSON.parse(res.text) as ShimAnswer;
    if (res.status !== 200 && answer.exitCode === undefined) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    finish('', `lab shim ${tool}: the lab's control API at ${control} did not answer (${(err as Error).message}); is the lab running?\n`, 125);
    return;
  }
  if (answer.passthrough) {
    const path = realTool(tool);
    if (!path) {
      finish('', `${tool}: command not found\n`, 127);
      return;
    }
    const r = spawnSync(path, answer.passthrough.argv ?? argv, { stdio: 'inherit' });
    process.exit(r.status ?? (r.signal ? 128 + 15 : 1));
  }
  finish(answer.stdout ?? '', answer.stderr ?? '', answer.exitCode ?? 0);
}

void run();
