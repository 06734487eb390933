/**
 * The remote side of a command: the wrapper that makes the remote shell
 * report its pid (its process group) before anything else, and the script
 * that stops that whole group on cancellation or timeout.
 *
 * @module
 */
import { quoteShellArg } from '../shell';
import { abortReason } from './failures';

/** The first line the wrapper prints on stderr: the remote shell's pid, which is also its process group. */
const PID_MARKER = '__LB_PID=';
export const PID_MARKER_RE = /(^|\n)__LB_PID=(\d+)\n/;
/** Stop looking for the marker after this many bytes of stderr (a chatty login script ran first). */
export const PID_MARKER_SEARCH_BYTES = 64 * 1024;
/** How long a cancel waits for the channel to open and report its pid before giving up on the group kill. */
export const PID_WAIT_MS = 3_000;
/** Grace between TERM and KILL for the remote process group. */
const KILL_GRACE_STEPS = 20; // × 0.1 s
/** Upper bound for the kill command's own round trip. */
export const KILL_EXEC_TIMEOUT_MS = 5_000;

/**
 * Wraps the script so the remote side reports its pid before anything else.
 * sshd runs each session's command in a new session (setsid), so that pid is
 * also the process group of everything the script starts; `exec` keeps it.
 */
export function wrap(script: string): string {
  return `echo "${PID_MARKER}$$" >&2; exec sh -c ${quoteShellArg(script)}`;
}

/**
 * TERM the process group, wait up to 2 s for it to go, then KILL. Written as
 * `kill -SIG -PGID` (no `--`): dash, Debian's and Ubuntu's /bin/sh (and so the
 * shell of many service accounts), rejects `kill -TERM -- -PGID` ("Illegal
 * number"), and the fallback would then signal the leader alone, leaving its
 * children running; bash, ash and zsh accept both forms.
 */
export function killScript(pid: number): string {
  const p = String(pid);
  return [
    `kill -TERM -${p} 2>/dev/null || kill -TERM ${p} 2>/dev/null`,
    `i=0; while [ "$i" -lt ${KILL_GRACE_STEPS} ] && kill -0 -${p} 2>/dev/null; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done`,
    `kill -KILL -${p} 2>/dev/null; kill -KILL ${p} 2>/dev/null; exit 0`,
  ].join('; ');
}

/** Resolves with `p`, or rejects with the abort reason as soon as `signal` aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e as Error);
      },
    );
  });
}

/** `p`'s value, or undefined after `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise<T | undefined>((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}
