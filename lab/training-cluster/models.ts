/**
 * A training node's model files: the canonical model, its checksum sidecar
 * `<model>.sha256` (`<sha256>  <name>`, as RingRift 2aa9f89b5 writes them,
 * app/utils/torch_utils.py), its backup and the checkpoints; a model
 * "loads" when its first line is the header `RRPTH1 {json}` (the torch load
 * is simulated: no torch here).
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

export const MODEL = 'models/canonical_hex8_2p.pth';
/** The canonical model's checksum sidecar. */
export const SIDECAR = 'models/canonical_hex8_2p.pth.sha256';
export const MODEL_BACKUP = 'models/backup/canonical_hex8_2p.pth';
export const CHECKPOINTS = 'models/checkpoints';

/** A model file: the loadable header line, then deterministic weights. */
export function modelBytes(epoch: number, salt: string): Buffer {
  const header = `RRPTH1 ${JSON.stringify({ keys: ['model_state_dict', 'optimizer_state_dict', 'epoch', 'config'], board_type: 'hex8', num_players: 2, epoch })}\n`;
  const chunks: Buffer[] = [Buffer.from(header, 'latin1')];
  let h = createHash('sha256').update(`${salt}:${epoch}`).digest();
  for (let i = 0; i < 256; i++) {
    chunks.push(h);
    h = createHash('sha256').update(h).digest();
  }
  return Buffer.concat(chunks);
}

export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** The checksum a sidecar records (its first word). */
export function sidecarSha(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  return readFileSync(path, 'utf8').trim().split(/\s+/)[0] || undefined;
}

/** A sidecar's text for a model's bytes. */
export function sidecarLine(bytes: Buffer): string {
  return `${sha256(bytes)}  ${basename(MODEL)}\n`;
}

/** What the seed's `torch.load` snippet finds in a model file: its keys and epoch, or why it does not load. */
export function modelCheck(path: string): { ok: true; keys: string[]; epoch: number; sha: string } | { ok: false; error: string } {
  if (!existsSync(path)) return { ok: false, error: `[Errno 2] No such file or directory: '${path}'` };
  const bytes = readFileSync(path);
  const nl = bytes.indexOf(0x0a);
  const head = bytes.subarray(0, nl < 0 ? Math.min(bytes.length, 200) : nl).toString('latin1');
  const m = /^RRPTH1 (\{.*\})$/.exec(head);
  if (!m) return { ok: false, error: 'invalid load key, expected the RRPTH1 header (the file is truncated or overwritten)' };
  try {
    const h = JSON.parse(m[1]!) as { keys: string[]; epoch: number };
    return { ok: true, keys: h.keys, epoch: h.epoch, sha: sha256(bytes) };
  } catch {
    return { ok: false, error: 'unpickling error: the header is not valid' };
  }
}
