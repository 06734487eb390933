/**
 * Shims: tiny executables on each lab host (`systemctl`, `pgrep`, `python`,
 * `inferadb-ledger`...) that forward their invocation to the lab process, so a
 * command run over real SSH acts on the simulated system.
 *
 * Each shim is `<dir>/bin/<cluster>/<node>/<tool>`:
 * ```sh
 * #!/bin/sh
 * : "${LAB_CONTROL:=http://127.0.0.1:PORT}" ...
 * exec /usr/bin/node /abs/dist/lab/shim-client.js <tool> "$@"
 * ```
 * The client (lab/shim-client.ts) POSTs `{cluster, node, tool, argv, env, cwd}`
 * to `$LAB_CONTROL/shim`, prints the answer's stdout/stderr and exits with its
 * code.
 *
 * Fall-through: a family that does not simulate an invocation (say
 * `pgrep -f something-else`) returns {@link passthrough}`()`; the control API
 * then tells the client to exec the real tool, found on PATH without the shim
 * directory, with the same (or rewritten) arguments.
 *
 * @module
 */
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ShimResult } from './family';

/** Results that mean "run the real tool"; kept out of {@link ShimResult} so the family contract stays unchanged. */
const PASSTHROUGH = new WeakMap<ShimResult, string[] | undefined>();

/**
 * A shim result telling the client to run the real tool instead.
 *
 * @param argv arguments for the real tool; default: the ones the shim was called with.
 * @returns a result whose exit code (127) is what the caller sees if the client is too old to fall through.
 */
export function passthrough(argv?: string[]): ShimResult {
  const r: ShimResult = { stdout: '', stderr: 'lab: this invocation is not simulated\n', exitCode: 127 };
  PASSTHROUGH.set(r, argv);
  return r;
}

/** When `r` came from {@link passthrough}: the argv to run the real tool with (undefined: unchanged). */
export function passthroughOf(r: ShimResult): { argv?: string[] } | undefined {
  if (!PASSTHROUGH.has(r)) return undefined;
  const argv = PASSTHROUGH.get(r);
  return argv ? { argv } : {};
}

/** Single-quote a string for /bin/sh. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface ShimSet {
  binDir: string;
  cluster: string;
  node: string;
  tools: string[];
  controlUrl: string;
  /** Absolute path of the compiled shim client (dist/lab/shim-client.js). */
  clientPath: string;
}

/**
 * (Re)write a host's shim directory: one executable per tool, nothing else
 * (stale shims from an earlier lab run are removed).
 */
export function writeShims(s: ShimSet): void {
  mkdirSync(s.binDir, { recursive: true });
  for (const old of readdirSync(s.binDir)) {
    if (!s.tools.includes(old)) rmSync(join(s.binDir, old), { force: true });
  }
  for (const tool of s.tools) {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(tool)) throw new Error(`lab: refusing shim with unsafe name "${tool}"`);
    const path = join(s.binDir, tool);
    // The baked defaults make the shim work even when the caller cleared the environment (env -i, sudo).
    const script = [
      '#!/bin/sh',
      `# Lifeboat lab shim for ${tool} on ${s.cluster}/${s.node}: forwards to the lab's control API.`,
      `: "\${LAB_CONTROL:=${s.controlUrl}}"`,
      `: "\${LAB_CLUSTER:=${s.cluster}}"`,
      `: "\${LAB_NODE:=${s.node}}"`,
      'export LAB_CONTROL LAB_CLUSTER LAB_NODE',
      `exec ${shQuote(process.execPath)} ${shQuote(s.clientPath)} ${shQuote(tool)} "$@"`,
      '',
    ].join('\n');
    writeFileSync(path, script, { mode: 0o755 });
    chmodSync(path, 0o755);
  }
}
