/**
 * bench/fanout's one activity: restart the service on one fleet host over
 * Lifeboat's SSH transport (src/activities/transport/ssh: pooled ssh2, the
 * host key pinned, the command an argv array), the same command the shell
 * loop and Ansible run. A non-zero exit fails the activity without retry.
 *
 * @module
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { toFailure } from '../../src/activities/transport/errors';
import { resolveSecret } from '../../src/activities/transport/secrets';
import { SshPool } from '../../src/activities/transport/ssh';
import type { FleetRestartInput, FleetRestartResult } from './types';

/** The worker's SSH pool; idle connections close after 5 s (one restart per host). */
export const pool = new SshPool({ idleMs: 5_000 });

export async function fleetRestart(input: FleetRestartInput): Promise<FleetRestartResult> {
  const t = input.target;
  try {
    const privateKey = await resolveSecret(t.privateKey);
    const res = await pool.exec(
      { target: { host: t.host, port: t.port, user: t.user, privateKey: t.privateKey, hostKeys: [t.hostKey] }, privateKey },
      { argv: input.argv },
      { timeoutMs: 60_000, signal: Context.current().cancellationSignal },
    );
    if (res.exitCode !== 0) {
      throw ApplicationFailure.create({
        type: 'CommandFailed',
        message: `${input.argv.join(' ')} on ${t.name} exited ${String(res.exitCode)}: ${res.stderr.trim().slice(-300)}`,
        nonRetryable: true,
      });
    }
    return { node: t.name, sshMs: res.durationMs };
  } catch (err) {
    throw toFailure(err);
  }
}
