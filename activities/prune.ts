import fs from 'node:fs';
import path from 'node:path';
import { Context } from '@temporalio/activity';
import { z } from 'zod';
import { dossierCodeSchema } from '../domain/dossier';
import { FailureType, permanentFailure } from '../domain/failures';
import type { Generation } from '../domain/generation';
import { GENERATION_KINDS } from '../domain/generation';
import { keptByLeaseOnly, type RetentionDecision, type RetentionPolicies, isRestorable, operatorDateTime, retentionPolicySchema, retentionText } from '../domain/retention';
import { type FanOutChunkResult, oneLine } from '../domain/run-details';
import { targetNameSchema } from '../domain/target';
import { parseInput } from '../domain/validation';
import type { OffsiteStore, StaleUploadSweep } from '../offsite/store';
import { markGenerationOffsite } from '../store/generations/mark-offsite';
import { markGenerationsDeleted } from '../store/generations/mark-deleted';
import { rewindBackupSeqToKept } from '../store/dossiers/rewind-backup-seq';
import { type PruneCandidate, pruneCandidates, pruneChunkAhead } from '../store/generations/prune-candidates';
import { markGenerationVerified } from '../store/generations/mark-verified';
import { markOffsiteCopyLost } from '../store/generations/mark-offsite-lost';
import { recordGenerationSha256 } from '../store/generations/record-sha256';
import { joinDecisions, loadRetention, planDossierPrune } from '../store/generations/retention-plan';
import { pruneDossierCount } from '../store/generations/prune-dossier-count';
import { pruneDossierPage } from '../store/generations/prune-dossier-page';
import { pruneLeftovers } from '../store/generations/prune-leftovers';
import { pruneTotals } from '../store/generations/prune-totals';
import type { Queryable } from '../store/queryable';
import { withTransaction } from '../store/transaction';
import { HELD_BACK_SHOWN, type HeldBackGeneration, type PruneCounts, type PruneHeldBack, type PrunePlan, type PruneTruth } from '../workflows/backup-prune.api';
import type { ActivityDeps } from './deps';
import { type DossierOutcome, endedPerHeartbeat, runChunk } from './fan-out';
import { assertBackupStore } from '../shared-store/marker';
import { type UnrecordedFile, findUnrecordedFiles, generationsDirsOf, keepFilesFoundAgain } from '../archive/generations';
import { loadBackupSettings } from '../store/settings/backup-settings';
import { type BackupKeyring, NO_KEYS, loadBackupKeyring } from '../archive/keys';
import { checkAgainstRecord, offsiteCheckOf, putBackFromLinks } from './verify';

/**
 * The prune of generations by retention (R-BK-11), dossier by dossier on the fan-out engine:
 *
 * 1. in one transaction, the dossier's kept generations are locked (FOR UPDATE: a reader taking a lease
 *    waits for the decision), the policy decides (domain/retention.ts), the generations it keeps are read back before
 *    any of their kind goes (keepWhatReadsBack: the records say what a verification found, not what the disk holds
 *    now), and the ones it deletes are marked deleted unless a lease holds them (markGenerationsDeleted checks again);
 * 2. then, outside it, each marked generation's names go: its links that are still this generation's file
 *    (same inode: a B{code}.SVG that is now a newer generation's stays), an empty date sub-folder, its own
 *    file last, then its off-site object (R-BK-14: the row marked offsite 'deleted' only once the storage
 *    said so; a deletion that failed is the dossier's failure, naming the generation, and the next prune's).
 *
 * 3. last, the files a backup committed and never recorded (killed, or PostgreSQL gone before its record): in the
 *    dossier's generations folders, a generation's name no row has, older than its newest recorded generation
 *    (archive/generations.ts findUnrecordedFiles), is removed and counted apart (`unrecorded`).
 *
 * A chunk first reads all its dossiers' generations and leftovers in two statements, unlocked (pruneChunkAhead): a
 * dossier where the policy keeps everything and no pruned generation is left over skips 1 and 2 (no lock, no
 * transaction: at 10,000 dossiers after a batch of 0, most of the prune's time was those); the others go through 1
 * and 2, which decide again under the lock.
 *
 * A worker killed between 1 and 2 leaves rows marked and files present: a retried attempt (or the next
 * prune, for a week) finds them as leftovers and removes them again; ENOENT is fine, so it is idempotent. A chunk's
 * counts cover all its dossiers whatever the attempt (those an earlier attempt ended are read again: recountEnded); the
 * prune's end reads what it deleted and freed from the rows (finishPrune).
 */

export interface PruneDeps extends ActivityDeps {
  /** the off-site store, built on first use (undefined: not configured on this worker) */
  offsiteStore: () => OffsiteStore | undefined | Promise<OffsiteStore | undefined>;
  /** an unfinished multipart upload older than this is a dead copy's and is aborted (default STALE_UPLOAD_AGE_MS; tests: less) */
  staleUploadAgeMs?: number;
}

/**
 * R-BK-14: an unfinished multipart upload older than this was left by a killed copy (it holds storage and is
 * invisible). 24 hours: six times the longest activity that uploads (the batch's chunk, 4 hours to close; Temporal
 * cancels an attempt past that), so no copy still running is ever cut.
 */
export const STALE_UPLOAD_AGE_MS = 24 * 3600 * 1000;
/** The sweep shares finishPrune's 15 s: what is left past this is the next prune's. */
const STALE_UPLOAD_SWEEP_MS = 8_000;

/** The last heartbeat of the chunk's earlier attempt (undefined outside an activity, or on a first attempt). */
function heartbeatDetails(): unknown {
  try {
    return Context.current().info.heartbeatDetails;
  } catch {
    return undefined;
  }
}

function activityLog(): Context['log'] | undefined {
  try {
    return Context.current().log;
  } catch {
    return undefined;
  }
}

/**
 * Once per prune (its end, not per dossier): the target's unfinished uploads older than `ageMs` aborted. Best effort:
 * the storage away, or more than fits in the time, is logged and left to the next prune; never the prune's failure.
 */
export async function abortStaleOffsiteUploads(
  offsiteStore: PruneDeps['offsiteStore'],
  target: string,
  o: { ageMs?: number; budgetMs?: number } = {},
): Promise<StaleUploadSweep | undefined> {
  const log = activityLog();
  try {
    const store = await offsiteStore();
    if (!store) return undefined;
    const startedBefore = new Date(Date.now() - (o.ageMs ?? STALE_UPLOAD_AGE_MS));
    const sweep = await store.abortStaleUploads(target, startedBefore, { signal: AbortSignal.timeout(o.budgetMs ?? STALE_UPLOAD_SWEEP_MS) });
    if (sweep.aborted) log?.info('stale off-site uploads aborted', { target, aborted: sweep.aborted, kept: sweep.kept, startedBefore: startedBefore.toISOString() });
    return sweep;
  } catch (err) {
    log?.warn('stale off-site uploads not all aborted (the next prune goes on)', { target, error: (err as Error).message, ...(err as { sweep?: StaleUploadSweep }).sweep });
    return (err as { sweep?: StaleUploadSweep }).sweep;
  }
}

const policiesSchema = z.object(Object.fromEntries(GENERATION_KINDS.map((k) => [k, retentionPolicySchema])) as Record<(typeof GENERATION_KINDS)[number], typeof retentionPolicySchema>);

const pruneChunkSchema = z.object({
  target: targetNameSchema,
  codes: z.array(dossierCodeSchema).max(10_000),
  /** the workflow id: deleted_by of the rows it marks */
  prunedBy: z.string().min(1).max(300),
  dryRun: z.boolean().default(false),
  policies: policiesSchema,
  timeZone: z.string().min(1).max(64),
  concurrency: z.number().int().min(1).max(64).default(4),
  timeBudgetMs: z.number().int().min(1).optional(),
});
export type PruneChunkInput = z.input<typeof pruneChunkSchema>;
export type PruneChunkResult = FanOutChunkResult & PruneCounts & PruneHeldBack;

const isMissing = (err: unknown) => (err as NodeJS.ErrnoException)?.code === 'ENOENT';

async function ignoreMissing<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/** A date sub-folder (YYYYMMDD) directly below the generation's kind root, removed when empty. */
async function removeEmptyDateFolder(link: string, generationFile: string): Promise<void> {
  const kindRoot = path.dirname(path.dirname(path.dirname(generationFile)));
  const dir = path.dirname(link);
  if (path.dirname(dir) !== kindRoot || !/^\d{8}$/.test(path.basename(dir))) return;
  try {
    await fs.promises.rmdir(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOENT') throw err;
  }
}

/**
 * Removes a pruned generation's names: its links first (each only while it is still this generation's
 * file: same device and inode), then its own file. Its own file going last is what makes a retry exact:
 * while it exists, the links can still be told apart. Returns the bytes freed: 0 when it was already gone.
 */
export async function removeGenerationFiles(g: Pick<Generation, 'file' | 'links'>): Promise<number> {
  const own = await ignoreMissing(fs.promises.stat(g.file));
  if (!own) return 0;
  for (const link of g.links) {
    if (link === g.file) continue;
    const s = await ignoreMissing(fs.promises.lstat(link));
    if (s && s.ino === own.ino && s.dev === own.dev) await ignoreMissing(fs.promises.unlink(link));
    await removeEmptyDateFolder(link, g.file);
  }
  try {
    await fs.promises.unlink(g.file);
  } catch (err) {
    if (isMissing(err)) return 0;
    throw err;
  }
  return own.size;
}

/**
 * Deletes a pruned generation's object in the bucket. A copy recorded failed may have left one (the answer of a
 * complete upload lost), so its key is looked up first. True: there was an object and it is deleted.
 */
async function deleteOffsiteObject(g: Generation, offsiteStore: PruneDeps['offsiteStore']): Promise<boolean> {
  const store = await offsiteStore();
  if (!store) throw new Error('off-site storage is not configured on this worker (NIGHTSHIFT_OFFSITE_S3_BUCKET)');
  // in the bucket the copy was made to, whatever this worker's bucket is now
  const bucket = g.offsiteBucket ?? undefined;
  if (g.offsiteState === 'failed' && !(await store.head(g.offsiteKey!, bucket))) return false;
  await store.deleteObject(g.offsiteKey!, bucket);
  return true;
}

/** Tests only: a pause after a dossier's rows are marked (a worker killed there leaves files to a retry). */
export interface PruneHooks {
  afterMark?: (code: string) => Promise<void>;
}

interface DossierPruneResult extends Required<PruneCounts> {
  error: string | null;
  /** the generations the policy deletes kept because a check could not be made (keepWhatReadsBack) */
  heldBack: HeldBackGeneration[];
}

/**
 * Step 3: the dossier's files left by interrupted backups (R-BK-11), listed by a dry run, removed otherwise. Only the
 * file: a B{code}.SVG that is still its second name is the latest archive written to that folder, which the seed's
 * tools read, and the next backup there replaces it.
 */
export async function sweepUnrecordedFiles(
  pool: Queryable,
  code: string,
  recorded: { file: string; snapshotAt: Date }[],
  o: { backupFolder?: string; dryRun: boolean },
): Promise<{ files: UnrecordedFile[]; removed: number; bytes: number; problems: string[] }> {
  const newestRecorded = recorded.reduce<Date | undefined>((n, g) => (n && n >= g.snapshotAt ? n : g.snapshotAt), undefined);
  const dirs = generationsDirsOf(code, recorded.map((g) => g.file), o.backupFolder);
  const files = await findUnrecordedFiles(pool, code, { dirs, newestRecorded });
  const out = { files, removed: 0, bytes: 0, problems: [] as string[] };
  if (o.dryRun) return { ...out, removed: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
  for (const f of files) {
    try {
      await fs.promises.unlink(f.file);
      out.removed++;
      out.bytes += f.size;
    } catch (err) {
      if (!isMissing(err)) out.problems.push(`unrecorded file ${f.file}: ${(err as Error).message}`);
    }
  }
  if (files.length) activityLog()?.info('files left by interrupted backups removed', { code, removed: out.removed, files: files.map((f) => f.file) });
  return out;
}

/** What the prune's check before it deletes found of a generation (readsBack): readable, bad, or not known. */
type Soundness = { state: 'ok' } | { state: 'bad' } | { state: 'unknown'; why: string };

interface ReadBackDeps {
  db: Queryable;
  keys: BackupKeyring;
  offsiteStore: PruneDeps['offsiteStore'];
  prunedBy: string;
}

/** Who recorded a finding of the prune's check (verify_error, offsite_error). */
const foundByPrune = (prunedBy: string) => `vu par la rétention avant de supprimer (${prunedBy})`;

/**
 * R-BK-11: can a restore read this generation now? Its file against its record (size, then SHA-256, or the archive read
 * back whole when no SHA-256 is recorded: checkAgainstRecord, the verification's own check), put back from another of
 * its names when it is gone (putBackFromLinks); else its off-site copy (the store's checkObject). A file or copy found bad
 * is recorded as a verification records it (the nightly batch then takes the dossier again); anything that could not be
 * checked (a key this worker lacks, no off-site store, the storage away, an I/O error) is `unknown`, never `bad`.
 */
async function readsBack(g: PruneCandidate, d: ReadBackDeps): Promise<Soundness> {
  // a restore reads the archive (or its copy) with its key: under a key this worker lacks it does not read back here,
  // whatever its bytes (drill K3, session 36: a kept newer generation under a key taken away from the workers let the
  // prune delete the only generation they could read)
  if (g.keyId && !d.keys.key(g.keyId)) return { state: 'unknown', why: `its backup key ${g.keyId} is not given to this worker` };
  let unknown: string | undefined;
  // a file a verification found corrupt may read back whole (a scratch restore that differed): only its copy counts
  if (g.verifyState !== 'corrupt') {
    try {
      const local = await checkAgainstRecord(g.file, g, d.keys);
      if (local.state === 'missing') {
        const back = await putBackFromLinks(g, d.keys);
        if (back) {
          activityLog()?.warn('generation file put back from its other name', { code: g.code, generation: g.id, from: back.from });
          return { state: 'ok' };
        }
      }
      if (local.state === 'ok') {
        if (!g.sha256) await recordGenerationSha256(d.db, g.id, local.sha256);
        return { state: 'ok' };
      }
      if (local.state === 'unknown') unknown = local.reason;
      else if (g.verifyState !== local.state) {
        await markGenerationVerified(d.db, g.id, { state: local.state, error: `${local.reason} (${foundByPrune(d.prunedBy)})`, restored: false, sha256: null });
      }
    } catch (err) {
      unknown = (err as Error).message;
    }
  }
  if (g.offsiteState === 'copied' && g.offsiteKey) {
    const check = g.sha256 ? await offsiteCheckOf(async () => d.offsiteStore())() : undefined;
    if (!check) unknown ??= g.sha256 ? 'no off-site store on this worker' : 'no SHA-256 recorded to check its off-site copy against';
    else {
      try {
        // the copy is all that is left of it here: read back whole, not taken on the storage's word (its checksum is
        // what it wrote down at the upload: drill E, a damaged object kept while the older generation was deleted)
        const c = await check(g.offsiteKey, { size: g.size, sha256: g.sha256! }, { readBack: true, bucket: g.offsiteBucket ?? undefined });
        if (c.status === 'ok') return { state: 'ok' };
        await markOffsiteCopyLost(d.db, g.id, { key: g.offsiteKey, copiedAt: g.offsiteAt, error: `(${foundByPrune(d.prunedBy)}) ${c.reason}` });
      } catch (err) {
        unknown ??= (err as Error).message;
      }
    }
  }
  return unknown === undefined ? { state: 'bad' } : { state: 'unknown', why: oneLine(unknown, 200) };
}

/**
 * A generation the policy deletes, kept because a check could not be made (R-BK-11): its own, or that of the kept ones
 * of its kind while it is the only one that reads back. The next prune checks again (the prune's result says so).
 */
export interface HeldBack {
  g: PruneCandidate;
  why: string;
  /** kept in place of the newer kept ones of its kind found not to read back (no check left unmade) */
  replacesBad?: true;
}

/** Why the prune keeps a generation the policy deletes: no kept one of its kind reads back (R-BK-11). */
export const ONLY_READABLE_REASON = 'the only generation that reads back';

/**
 * R-BK-11, before anything of a dossier is deleted: a generation nothing is left of (gone) whose other name still holds
 * it gets its file back and stays; then, for each kind with a generation to delete, its kept generations that the
 * records call restorable are read back newest first until one does (normally the first: one file read per pruned
 * dossier). None does: the kind's generations to delete are read back newest first, and the first that does stays
 * (ONLY_READABLE_REASON); one that could not be checked stays too (never deleted on a check not made).
 */
export async function keepWhatReadsBack(gens: (PruneCandidate & { decision: RetentionDecision })[], d: ReadBackDeps): Promise<HeldBack[]> {
  const held: HeldBack[] = [];
  for (const g of gens) {
    if (g.decision.keep || !g.decision.gone) continue;
    const back = await putBackFromLinks(g, d.keys).catch(() => undefined);
    if (!back) continue;
    g.decision.keep = true;
    g.decision.reasons.push(`its file was put back from ${back.from} (same content): verify it`);
  }
  for (const kind of GENERATION_KINDS) {
    const mine = gens.filter((g) => g.kind === kind);
    const doomed = mine.filter((g) => !g.decision.keep && !g.decision.gone);
    if (!doomed.length) continue;
    let readable = false;
    // kept ones that could not be checked (not found bad): a doomed one kept in their stead is only held back
    const unchecked: { id: number; why: string }[] = [];
    const bad: number[] = [];
    for (const g of mine) {
      if (!g.decision.keep || !isRestorable(g)) continue;
      const s = await readsBack(g, d);
      if (s.state === 'ok') {
        readable = true;
        break;
      }
      if (s.state === 'unknown') unchecked.push({ id: g.id, why: s.why });
      else bad.push(g.id);
    }
    if (readable) continue;
    for (const g of doomed) {
      const s = await readsBack(g, d);
      if (s.state === 'bad') continue;
      g.decision.keep = true;
      g.decision.reasons.push(s.state === 'ok' ? ONLY_READABLE_REASON : `not deleted: no kept ${kind} generation reads back, and this one could not be checked (${s.why})`);
      activityLog()?.warn('kept: no kept generation of its kind reads back', { code: g.code, kind, generation: g.id, reason: g.decision.reasons.at(-1) });
      if (s.state === 'unknown') held.push({ g, why: `could not be checked (${s.why})` });
      else if (unchecked.length) {
        const them = unchecked.map((u) => `${u.id} (${u.why})`).join('; ');
        held.push({ g, why: `kept while the kept generation ${them} could not be checked: it is the only one that reads back` });
      } else if (bad.length) {
        held.push({ g, why: `kept: the kept ${kind} generation(s) ${bad.join(', ')} do not read back (recorded corrupt or missing): it is the only one that does`, replacesBad: true });
      }
      if (s.state === 'ok') break;
    }
  }
  return held;
}

/** Adds the generations a decision keeps (and those only a lease keeps) to `counts`. */
function tallyKept(counts: Pick<Required<PruneCounts>, 'kept' | 'leased' | 'restorePoints'>, gens: { decision: RetentionDecision }[]): void {
  for (const g of gens) {
    if (!g.decision.keep) continue;
    counts.kept++;
    if (keptByLeaseOnly(g.decision)) {
      counts.leased++;
      if (g.decision.restorePoint) counts.restorePoints++;
    }
  }
}

const zeroCounts = (): Required<PruneCounts> => ({ deleted: 0, bytesFreed: 0, kept: 0, leased: 0, restorePoints: 0, offsiteDeleted: 0, offsiteFinished: 0, unrecorded: 0, unrecordedBytes: 0, filesLeft: 0, filesLeftBytes: 0 });

/**
 * What an earlier attempt of the chunk counted for the dossiers its heartbeat says ended (this attempt skips them), read
 * again: a killed attempt's counts died with it, and the workflow sums the last attempt's (issue 13: kept 32 for 35).
 * A dry run decides them again (it changed nothing). A prune counts what it kept from the rows left (it marked the others,
 * and a retry's decision over what is left keeps them all), those only a lease keeps, and the files of generations it
 * marked still on disk; deleted and bytesFreed come from the rows at the end (finishPrune). The files left by
 * interrupted backups that attempt removed are gone without a record: not counted again.
 */
export async function recountEnded(
  pool: Queryable & { connect: () => Promise<import('pg').PoolClient> },
  codes: string[],
  o: { policies: RetentionPolicies; timeZone: string; prunedBy: string; dryRun: boolean; offsiteConfigured: boolean; offsiteStore: PruneDeps['offsiteStore']; backupFolder?: string },
): Promise<Required<PruneCounts>> {
  const counts = zeroCounts();
  if (!codes.length) return counts;
  if (o.dryRun) {
    for (const code of codes) {
      const r = await pruneDossier(pool, code, { ...o, dryRun: true });
      for (const k of Object.keys(counts) as (keyof PruneCounts)[]) counts[k] += r[k];
    }
    return counts;
  }
  const ahead = await pruneChunkAhead(pool, codes);
  for (const code of codes) {
    tallyKept(counts, joinDecisions(ahead.generations.get(code) ?? [], o.policies, o.timeZone, ahead.now, { offsiteConfigured: o.offsiteConfigured }));
    if (!ahead.withLeftovers.has(code)) continue;
    for (const g of await pruneLeftovers(pool, code)) {
      if (g.deletedBy !== o.prunedBy || g.verifyState === 'missing' || !(await ignoreMissing(fs.promises.stat(g.file)))) continue;
      counts.filesLeft++;
      counts.filesLeftBytes += g.size;
    }
  }
  return counts;
}

/** One dossier: decide and mark in one transaction, then remove what is marked (and what an earlier attempt marked). */
export async function pruneDossier(
  pool: Queryable & { connect: () => Promise<import('pg').PoolClient> },
  code: string,
  o: {
    policies: RetentionPolicies;
    timeZone: string;
    prunedBy: string;
    dryRun: boolean;
    offsiteStore: PruneDeps['offsiteStore'];
    hooks?: PruneHooks;
    /** the backup folder (settings): its kinds' generations folders are swept too, besides those of the dossier's rows */
    backupFolder?: string;
    /** off-site storage is configured on this worker (config.offsite): a generation without a copy then holds the newest copy (R-BK-14) */
    offsiteConfigured: boolean;
    /** to read back encrypted archives before deleting (keepWhatReadsBack); without the key, one is not known to read back */
    keys?: BackupKeyring;
    /** what the chunk read for this dossier first (pruneChunkAhead), unlocked */
    ahead?: { generations: PruneCandidate[]; leftovers: boolean; now: Date };
  },
): Promise<DossierPruneResult> {
  const counts: DossierPruneResult = { deleted: 0, bytesFreed: 0, kept: 0, leased: 0, restorePoints: 0, offsiteDeleted: 0, offsiteFinished: 0, unrecorded: 0, unrecordedBytes: 0, filesLeft: 0, filesLeftBytes: 0, error: null, heldBack: [] };
  const sweep = async (recorded: { file: string; snapshotAt: Date }[]) => {
    const r = await sweepUnrecordedFiles(pool, code, recorded, { backupFolder: o.backupFolder, dryRun: o.dryRun });
    counts.unrecorded = r.removed;
    counts.unrecordedBytes = r.bytes;
    return r.problems;
  };
  const tally = (gens: { decision: RetentionDecision }[]) => tallyKept(counts, gens);
  if (o.dryRun) {
    const plan = await planDossierPrune(pool, code, o.policies, o.timeZone, { offsiteConfigured: o.offsiteConfigured });
    await keepFilesFoundAgain(plan.generations);
    tally(plan.generations);
    const doomed = plan.generations.filter((g) => !g.decision.keep);
    counts.deleted = doomed.length;
    counts.bytesFreed = doomed.reduce((n, g) => n + g.size, 0);
    await sweep(plan.generations);
    return counts;
  }
  // what the chunk read first deletes nothing and nothing pruned is left over: no lock, no transaction (most dossiers
  // on most nights); else the locked path decides again. A generation recorded meanwhile waits for the next prune.
  if (o.ahead && !o.ahead.leftovers) {
    const gens = joinDecisions(o.ahead.generations, o.policies, o.timeZone, o.ahead.now, { offsiteConfigured: o.offsiteConfigured });
    if (gens.every((g) => g.decision.keep)) {
      tally(gens);
      const problems = await sweep(gens);
      if (problems.length) counts.error = oneLine(`not removed: ${problems.join('; ')}`, 1000);
      return counts;
    }
  }
  let marked = new Set<number>();
  // the kept rows as the decision saw them: the newest recorded snapshot for step 3
  let recorded: { file: string; snapshotAt: Date }[] = [];
  await withTransaction(pool, async (db) => {
    const { generations, now } = await pruneCandidates(db, code, { lock: true });
    recorded = generations;
    const gens = joinDecisions(generations, o.policies, o.timeZone, now, { offsiteConfigured: o.offsiteConfigured });
    await keepFilesFoundAgain(gens);
    const held = await keepWhatReadsBack(gens, { db, keys: o.keys ?? NO_KEYS, offsiteStore: o.offsiteStore, prunedBy: o.prunedBy });
    counts.heldBack = held.map(({ g, why, replacesBad }) => ({
      code: g.code,
      generationId: g.id,
      kind: g.kind,
      snapshotAt: g.snapshotAt.toISOString(),
      date: operatorDateTime(g.snapshotAt, o.timeZone),
      why,
      ...(replacesBad && { replacesBad }),
    }));
    tally(gens);
    const doomed = gens.filter((g) => !g.decision.keep);
    // a file already gone frees nothing: recorded missing with the mark, so the prune's end (pruneTotals) counts the
    // bytes really freed from the rows, whatever attempt then removes the files
    const gone = new Set<number>();
    for (const g of doomed) if (g.verifyState !== 'missing' && !(await ignoreMissing(fs.promises.stat(g.file)))) gone.add(g.id);
    marked = new Set(doomed.length ? await markGenerationsDeleted(db, doomed.map((g) => g.id), o.prunedBy) : []);
    for (const id of marked) {
      if (gone.has(id)) await markGenerationVerified(db, id, { state: 'missing', error: `file gone before its prune removed it (${foundByPrune(o.prunedBy)})`, restored: false });
    }
    // R-BK-2: its newest normal record gone, the next batch takes the dossier again (not only while the record was there)
    if (marked.size) await rewindBackupSeqToKept(db, code, [...marked]);
    counts.deleted = marked.size;
  });
  await o.hooks?.afterMark?.(code);
  const problems: string[] = [];
  for (const g of await pruneLeftovers(pool, code)) {
    try {
      counts.bytesFreed += await removeGenerationFiles(g);
    } catch (err) {
      problems.push(`generation ${g.id} (${g.file}): ${(err as Error).message}`);
      // marked by this prune and counted freed by its end (pruneTotals, from the rows): still here, so not freed
      if (g.deletedBy === o.prunedBy && g.verifyState !== 'missing') {
        counts.filesLeft++;
        counts.filesLeftBytes += g.size;
      }
      continue;
    }
    // R-BK-14: the off-site object goes with its generation; a generation counts as deleted once both are gone
    const objectLeft = (g.offsiteState === 'copied' || g.offsiteState === 'failed') && g.offsiteKey !== null;
    if (!objectLeft) continue;
    try {
      const deleted = await deleteOffsiteObject(g, o.offsiteStore);
      await markGenerationOffsite(pool, g.id, { state: 'deleted', deletedBy: deleted ? o.prunedBy : null });
      // R-BK-14: the copy of a generation an earlier prune marked is that prune's work finished, said apart
      if (deleted && g.deletedBy === o.prunedBy) counts.offsiteDeleted++;
      else if (deleted) counts.offsiteFinished++;
    } catch (err) {
      // the row stays as it is (pruned, its copy recorded): the next prune deletes the object and says it finished it
      // the store's message names the object, the cause and the bucket: the reason is cut at 200 characters in the results
      problems.push(`generation ${g.id} (${g.snapshotAt.toISOString()}), its copy: ${(err as Error).message}`);
    }
  }
  problems.push(...(await sweep(recorded)));
  if (problems.length) counts.error = oneLine(`not removed: ${problems.join('; ')}`, 1000);
  return counts;
}

/** The worker's keys for the check before deleting; keys that do not load leave encrypted archives unchecked, hence kept. */
function pruneKeyring(s: Parameters<typeof loadBackupKeyring>[0]): BackupKeyring {
  try {
    return loadBackupKeyring(s);
  } catch (err) {
    activityLog()?.warn('backup keys not loaded: encrypted generations are not read back, so not deleted on that check', { error: (err as Error).message });
    return NO_KEYS;
  }
}

export function createPruneActivities({ config, pools, offsiteStore, staleUploadAgeMs }: PruneDeps, hooks: PruneHooks = {}) {
  return {
    /** The prune's start: one policy per kind (R-BK-9 precedence, resolved on this worker), the zone, the total. */
    async planPrune(raw: { target: string }): Promise<PrunePlan & { ignored?: string }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const r = await loadRetention(pool, config);
      const policyText = r.details.map((d) => `${d.kind} ${retentionText(d.policy)} (${d.source})`).join('; ');
      return { policies: r.policies, policyText, timeZone: config.timeZone, total: await pruneDossierCount(pool), ...(r.ignored ? { ignored: r.ignored } : {}) };
    },

    /** A page of dossiers that have kept generations, in code order after the cursor (local activity). */
    async selectPrunePage(raw: { target: string; cursor: string; limit: number }): Promise<{ codes: string[]; cursor: string; exhausted: boolean }> {
      const pool = pools.get(parseInput(targetNameSchema, raw.target));
      const codes = await pruneDossierPage(pool, raw.cursor, raw.limit);
      return { codes, cursor: codes.length ? codes[codes.length - 1]! : raw.cursor, exhausted: codes.length < raw.limit };
    },

    /** A chunk of dossiers pruned with a small concurrency; heartbeats, and resumes where its heartbeat left off. */
    async pruneChunk(raw: PruneChunkInput): Promise<PruneChunkResult> {
      const input = parseInput(pruneChunkSchema, raw);
      const pool = pools.get(input.target);
      // a generation's file not seen because the share is unmounted must not be recorded deleted
      // (and a generations folder read empty from an unmounted share: nothing to sweep, never a wrong deletion)
      const backupFolder = (await loadBackupSettings(pool, config, input.target)).settings.folder;
      await assertBackupStore(pool, input.target, backupFolder);
      const keys = pruneKeyring(config.backupKeys);
      // two statements for the whole chunk; a dry run decides from its own unlocked read anyway
      const ahead = input.dryRun ? undefined : await pruneChunkAhead(pool, input.codes);
      const totals = zeroCounts();
      // R-BK-11: said in the prune's result, not only logged (an earlier attempt's, for the dossiers it ended, is not known again)
      const held: Required<PruneHeldBack> = { heldBack: 0, heldBackShown: [], replacingBad: 0 };
      const r = await runChunk({
        codes: input.codes,
        concurrency: input.concurrency,
        timeBudgetMs: input.timeBudgetMs,
        perDossier: async (code): Promise<DossierOutcome> => {
          // a throw (the database away) ends the chunk: its retry does these dossiers again, exactly
          const res = await pruneDossier(pool, code, {
            policies: input.policies,
            timeZone: input.timeZone,
            prunedBy: input.prunedBy,
            dryRun: input.dryRun,
            offsiteStore,
            hooks,
            backupFolder,
            offsiteConfigured: config.offsite !== undefined,
            keys,
            ...(ahead && { ahead: { generations: ahead.generations.get(code) ?? [], leftovers: ahead.withLeftovers.has(code), now: ahead.now } }),
          });
          for (const k of Object.keys(totals) as (keyof PruneCounts)[]) totals[k] += res[k];
          held.heldBack += res.heldBack.length;
          held.replacingBad += res.heldBack.filter((h) => h.replacesBad).length;
          held.heldBackShown.push(...res.heldBack.slice(0, HELD_BACK_SHOWN - held.heldBackShown.length));
          return res.error ? { status: 'failed', error: res.error } : { status: 'ok' };
        },
      });
      // the dossiers an earlier attempt ended (its heartbeat): skipped by runChunk, their counts read again
      const ended = endedPerHeartbeat(input.codes, heartbeatDetails());
      const again = await recountEnded(pool, ended, {
        policies: input.policies,
        timeZone: input.timeZone,
        prunedBy: input.prunedBy,
        dryRun: input.dryRun,
        offsiteConfigured: config.offsite !== undefined,
        offsiteStore,
        backupFolder,
      });
      for (const k of Object.keys(totals) as (keyof PruneCounts)[]) totals[k] += again[k];
      const { replacingBad, ...heldBack } = held;
      return { ...r, ...totals, ...(held.heldBack ? { ...heldBack, ...(replacingBad && { replacingBad }) } : {}) };
    },

    /**
     * The truth at the end, from the rows (pruneTotals): what this prune marked (deleted_by its workflow id) and the
     * bytes of those whose file was there, whatever attempt removed them (a retried chunk finds them gone). First,
     * once per prune (a dry run never gets here), the dead copies' unfinished uploads in the bucket aborted (R-BK-14).
     */
    async finishPrune(raw: { target: string; prunedBy: string }): Promise<PruneTruth> {
      const target = parseInput(targetNameSchema, raw.target);
      const pool = pools.get(target);
      if (!raw.prunedBy) throw permanentFailure(FailureType.InvalidInput, 'finishPrune: no workflow id');
      await abortStaleOffsiteUploads(offsiteStore, target, { ageMs: staleUploadAgeMs });
      return pruneTotals(pool, raw.prunedBy);
    },
  };
}
