/**
 * A training node's model files: the canonical model, its `sha256sum`
 * manifest, its backup and the checkpoints; a model "loads" when its first
 * line is the header `RRPTH1 {json}`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';

export const MODEL = 'models/canonical_hex8_2p.pth';
export const MANIFEST = 'models/MANIFEST.sha256';
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

export function manifestSha(path: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const line = readFileSync(path, 'utf8').split('\n').find((l) => l.trim().endsWith(basename(MODEL)));
  return line?.trim().split(/\s+/)[0];
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
