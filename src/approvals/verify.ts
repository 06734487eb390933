/**
 * Checks one signed request against what it must be: the signature is valid
 * for the statement's exact bytes, the statement is for this namespace,
 * recovery, run, gate (or decision point) and attempt, carries the answer,
 * reason and evidence digest the request carries, is fresh, and its key is
 * an allowed signer for the principal it names. Deterministic and pure: the
 * workflow's update validators and handlers call it; so does the CLI before
 * it sends anything.
 *
 * @module
 */
import type { AllowedSigner } from './signers';
import { principalsOf, signersFor } from './signers';
import { SignatureError, verifySshSignature, type SshPublicKey } from './sshsig';
import { parseStatement, SIGNING_NAMESPACE, type SignedStatement, type Statement } from './statement';
import { digestOf } from './statement';

/** How a cluster's recoveries are approved, as the workflow receives it in its input. */
export interface ApprovalPolicy {
  /** `signed`: every start, approval, rejection and decision is signed; `unsigned`: names only ("identity not verified"). */
  mode: 'signed' | 'unsigned';
  /** The allowed signers (public keys only), parsed from {@link source}. */
  signers?: AllowedSigner[];
  /** Where they came from (the allowed-signers file) and the digest of its content, for the record and the audit. */
  source?: string;
  sourceDigest?: string;
  /** Gates that need more than one approver (distinct keys and principals), by gate name. */
  required?: Record<string, number>;
  /** How old a signed statement may be when it arrives (default {@link DEFAULT_MAX_AGE_SECONDS}). */
  maxAgeSeconds?: number;
}

export const DEFAULT_MAX_AGE_SECONDS = 600;
/** How far ahead of the workflow's clock a signer's clock may be. */
export const MAX_CLOCK_SKEW_SECONDS = 300;

/** The fields a statement must carry for this request; an absent field is not checked. */
export type Expected = Partial<Omit<Statement, 'format' | 'signedAt' | 'nonce'>> & Pick<Statement, 'kind' | 'namespace' | 'workflowId' | 'cluster' | 'principal'>;

/** A request whose signature and statement check out. */
export interface VerifiedRequest {
  principal: string;
  key: SshPublicKey;
  statement: Statement;
  /** `sha256:...` of the signature: a statement is used once. */
  signatureDigest: string;
}

/** A signed request that is refused; the message says why and what to do. */
export class SignedRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SignedRequestError';
  }
}

const WHAT: Partial<Record<keyof Expected, string>> = {
  kind: 'request',
  namespace: 'Temporal namespace',
  workflowId: 'recovery',
  runId: 'run',
  scenario: 'scenario',
  cluster: 'cluster',
  target: 'gate or decision',
  attempt: 'attempt',
  decision: 'answer',
  choice: 'choice',
  reason: 'reason',
  evidence: 'evidence',
  principal: 'principal',
};

/**
 * Verifies a signed request.
 *
 * @param policy the recovery's approval policy (signed mode)
 * @param signed the statement text and its armored SSH signature
 * @param expect what the statement must say for this request
 * @param nowIso the workflow's current time
 * @throws {@link SignedRequestError} with the reason in an operator's words
 */
export function verifySignedRequest(policy: ApprovalPolicy, signed: SignedStatement | undefined, expect: Expected, nowIso: string): VerifiedRequest {
  if (!signed || typeof signed.statement !== 'string' || typeof signed.signature !== 'string') {
    throw new SignedRequestError(
      `the ${expect.kind} is not signed, and cluster ${expect.cluster} requires signed approvals (allowed signers: ${policy.source ?? 'in the recovery\'s input'}): use the lifeboat CLI with your SSH key (--key, or LIFEBOAT_SIGNING_KEY)`,
    );
  }
  let statement: Statement;
  try {
    statement = parseStatement(signed.statement);
  } catch (err) {
    throw new SignedRequestError(`${(err as Error).message}: sign the request again with the lifeboat CLI`);
  }
  let key: SshPublicKey;
  let userPresent: boolean | undefined;
  try {
    ({ key, userPresent } = verifySshSignature(signed.signature, signed.statement, SIGNING_NAMESPACE));
  } catch (err) {
    if (err instanceof SignatureError) throw new SignedRequestError(`the signature does not verify: ${err.message}`);
    throw err;
  }
  if (userPresent === false) throw new SignedRequestError(`the hardware key ${key.fingerprint} signed without being touched (no user presence): sign again and touch the key`);

  for (const k of Object.keys(WHAT) as Array<keyof Expected>) {
    const want = expect[k];
    if (want === undefined && k !== 'choice' && k !== 'reason') continue;
    const got = statement[k as keyof Statement];
    if (got === want) continue;
    throw new SignedRequestError(mismatch(k, got, want, expect));
  }

  const signers = policy.signers ?? [];
  if (!signersFor(signers, key, statement.principal, SIGNING_NAMESPACE, statement.signedAt).length) {
    const as = principalsOf(signers, key);
    throw new SignedRequestError(
      as.length
        ? `key ${key.fingerprint} may sign as ${as.join(', ')} (at that time, in namespace ${SIGNING_NAMESPACE}), not as ${statement.principal}: sign as one of them (--as)`
        : `key ${key.fingerprint} (${key.type}) is not an allowed signer of cluster ${expect.cluster} (${policy.source ?? 'allowed signers in the recovery\'s input'}): sign with a listed key, or have it added to that file`,
    );
  }

  const now = Date.parse(nowIso);
  const at = Date.parse(statement.signedAt);
  const maxAge = policy.maxAgeSeconds ?? DEFAULT_MAX_AGE_SECONDS;
  if (at > now + MAX_CLOCK_SKEW_SECONDS * 1000) {
    throw new SignedRequestError(`the statement is signed at ${statement.signedAt}, ahead of the recovery's clock (${nowIso}) by more than ${MAX_CLOCK_SKEW_SECONDS} s: check the signer's clock, then sign again`);
  }
  if (now - at > maxAge * 1000) {
    throw new SignedRequestError(`the statement was signed at ${statement.signedAt}, ${Math.round((now - at) / 1000)} s ago; signed requests are valid for ${maxAge} s: sign again`);
  }
  return { principal: statement.principal, key, statement, signatureDigest: digestOf(signed.signature) };
}

function mismatch(k: keyof Expected, got: unknown, want: unknown, expect: Expected): string {
  const show = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v));
  switch (k) {
    case 'runId':
      return `the statement was signed for run ${show(got)} of ${expect.workflowId}, not for its current run ${show(want)}: look at the recovery again (lifeboat watch ${expect.workflowId} --once) and sign again`;
    case 'target':
      return `the statement was signed for ${show(got)}, not for ${show(want)}: sign for the gate or decision you answer`;
    case 'attempt':
      return `the statement was signed for attempt ${show(got)} of ${show(expect.target)}, which is now at attempt ${show(want)} (it was reopened): look at it again and sign again`;
    case 'evidence':
      return `the evidence of ${show(expect.target)} changed since it was signed (signed ${show(got)}, now ${show(want)}): look at it again (lifeboat watch ${expect.workflowId} --once) and sign again`;
    case 'kind':
    case 'decision':
      return `the statement says ${show(got)}, but the request is ${show(want)}: sign what you send`;
    default:
      return `the statement's ${WHAT[k]} is ${show(got)}, not ${show(want)}: sign the request again with the lifeboat CLI`;
  }
}
