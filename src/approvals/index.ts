/**
 * Signed approvals: operators sign what they decide with their SSH keys
 * (`ssh-keygen -Y sign`, keys on hardware tokens included); the workflow
 * verifies every start, approval, rejection and decision against the
 * cluster's allowed signers before it accepts it; `lifeboat audit`
 * re-verifies them from history with `ssh-keygen -Y verify`.
 *
 * Everything here is pure and deterministic (no Node APIs): the workflow
 * sandbox runs it.
 *
 * - {@link verifySshSignature}: SSHSIG signatures (Ed25519, ECDSA P-256/384/521, FIDO forms).
 * - {@link parseAllowedSigners}: OpenSSH's allowed-signers format.
 * - {@link canonicalStatement} / {@link parseStatement}: the exact text signed.
 * - {@link verifySignedRequest}: a request checked against what it must say.
 *
 * @module
 */
export { fromBase64, toBase64, utf8 } from './bytes';
export { parseAllowedSigners, principalsOf, signersFor, matchesPatternList, SignersFileError, type AllowedSigner } from './signers';
export { fingerprintOf, publicKeyOf, SignatureError, SUPPORTED_KEY_TYPES, verifySshSignature, type SshPublicKey, type VerifiedSignature } from './sshsig';
export {
  canonicalStatement,
  decisionEvidence,
  digestOf,
  gateEvidence,
  parseStatement,
  SIGNING_NAMESPACE,
  STATEMENT_FORMAT,
  type SignedStatement,
  type Statement,
  type StatementKind,
} from './statement';
export { DEFAULT_MAX_AGE_SECONDS, MAX_CLOCK_SKEW_SECONDS, SignedRequestError, verifySignedRequest, type ApprovalPolicy, type Expected, type VerifiedRequest } from './verify';
