import crypto from 'node:crypto';

/**
 * The gate's session tokens, and the store operations it runs (re-exported from store/gate, one
 * statement per file). State lives only in the target database (several gate processes may serve one
 * target) and every decision uses the database clock (now()), so that all gates and the workflow's
 * activities agree on "live" (store/gate/sql-parts.ts: LIVE_SESSION_SQL).
 *
 * Tokens: only their SHA-256 is stored. Operations match the token's hash in SQL: the client controls
 * only the preimage, so comparing digests leaks nothing useful; the miss path (401 or 404?) compares in
 * constant time (findSession + tokenMatches).
 */

export { readStatus, type TargetStatus } from '../store/gate/read-status';
export { logout } from '../store/gate/logout-session';
export { closeDossier, type DossierOutcome } from '../store/gate/close-dossier';
export { readBackupTriggerState, type BackupTriggerState } from '../store/gate/read-backup-trigger-state';
export { findSession } from '../store/gate/find-session';
export { sweepExpiredSessions } from '../store/gate/sweep-expired-sessions';
export { ping } from '../store/gate/ping';

export function newToken(): { token: string; tokenHash: string } {
  const token = crypto.randomBytes(32).toString('base64url');
  return { token, tokenHash: hashToken(token) };
}

export function hashToken(token: string): string {
  return crypto.createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenMatches(tokenHash: string, storedHash: string): boolean {
  const a = Buffer.from(tokenHash, 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}
