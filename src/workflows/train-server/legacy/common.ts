/**
 * v1 (kept for the histories that recorded it). Pieces the train-server scenarios share: which node is the server, and the
 * runbook's closing "notify users".
 *
 * @module
 */
import type { RecoveryInput } from '../../kit';

/** The server's node: the one with the train-server role, else the first. */
export function serverNode(input: RecoveryInput<unknown>): string {
  const nodes = input.cluster.nodes;
  return (nodes.find((n) => n.roles.includes('train-server')) ?? nodes[0])?.name ?? 'train1';
}

/** The setup scripts of the runbook at 5a02c9d, in order (01 creates the storage array). */
export const SETUP_SCRIPTS = [
  '01-setup-storage.sh',
  '01b-setup-gdrive-shared.sh',
  '02-setup-users.sh',
  '03-setup-docker.sh',
  '04-setup-cloudflare-tunnel.sh',
  '05-setup-firewall.sh',
  '06-setup-monitoring.sh',
  '07-setup-backups.sh',
  '08-setup-data-pipeline.sh',
];
