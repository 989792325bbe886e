import path from 'node:path';
import type pg from 'pg';
import type { Command } from 'commander';
import { readGivenKeyIds } from '../../archive/keys';
import { oneLine } from '../../domain/run-details';
import { REPORT_FOLDER, SET_RECIPIENTS_HINT, copyStatusesFor } from '../../domain/backup-batch';
import { type ResolvedRetention, operatorDateTime, retentionText } from '../../domain/retention';
import { sizeText } from '../../domain/text';
import { latestRun } from '../../store/backup/latest-run';
import { loadRetention } from '../../store/generations/retention-plan';
import { type KeptTotals, dossierCoverage, storeSummary } from '../../store/generations/store-summary';
import { loadBackupSettings } from '../../store/settings/backup-settings';
import { type BucketCopies, copiesByBucket } from '../../store/offsite/copies-by-bucket';
import { withReadOnlySnapshot } from '../../store/patch/read-only-snapshot';
import { latestVerifyRunId } from '../../store/verify/run-problems';
import { verifyRunByRef } from '../../store/verify/run-by-ref';
import { action, config, jsonOption, output, target, targetOption, withPools } from '../context';
import { type PruneOutcome, lastPruneOutcome, pruneOutcomeSummary } from '../prune-outcome';

interface InfoFlags {
  target?: string;
  json?: boolean;
}

/**
 * `nightshift backup info`: the target's backup store at a glance, as pgBackRest's `info` and restic's `stats` give it
 * (issue 13): where the archives are, what is kept (generations, size, dossiers, oldest and newest, per folder kind),
 * their verification, off-site copies and keys (those this host does not give named), what was pruned, which dossiers
 * the nightly batch takes have no kept generation, and the last batch, verification and prune. Read only; Temporal is asked
 * for the last prune only (a prune keeps no ledger in the database: its outcome is its workflow's), and not reached, the
 * line says so and the command goes on (drill R2, session 36: a failed nightly prune was seen in the Web UI only).
 */
export function registerBackupInfoCommand(backup: Command): void {
  backup
    .command('info')
    .description("the target's backup store at a glance: kept generations and size per kind, verification, off-site copies, keys, dossiers not covered, last batch, verification and prune")
    .addOption(targetOption())
    .addOption(jsonOption())
    .action(
      action(async (flags: InfoFlags) => {
        const t = target(flags.target).name;
        const cfg = config();
        const at = (d: Date | null) => (d ? operatorDateTime(d, cfg.operatorTimeZone) : null);
        // beside the snapshot: Temporal's answer (or its absence) does not hold the database's
        const [store, lastPrune] = await withPools(t, (pool) => Promise.all([readStore(pool, t), lastPruneOutcome(pool, t, cfg.temporal.taskQueue)]));
        const shown = lastPrune && { ...lastPrune, startedAt: at(lastPrune.startedAt ?? null), closedAt: at(lastPrune.closedAt ?? null) };
        output(flags.json, { ...store, lastPrune: shown }, infoText);
      }),
    );
}

/** Every figure the database gives, read in one read-only snapshot. */
function readStore(pool: pg.Pool, t: string): Promise<Omit<Info, 'lastPrune'>> {
  const cfg = config();
  const zone = cfg.operatorTimeZone;
  const at = (d: Date | null) => (d ? operatorDateTime(d, zone) : null);
  // every figure of one instant: a batch or prune running meanwhile does not make the lines disagree
  return withReadOnlySnapshot(pool, async (db) => {
    const { settings } = await loadBackupSettings(db, cfg, t);
    const summary = await storeSummary(db);
    const buckets = await copiesByBucket(db);
    const coverage = await dossierCoverage(db, copyStatusesFor(settings.dossiers));
    const retention = await loadRetention(db, cfg);
    const batch = await latestRun(db);
    const verifyId = await latestVerifyRunId(db);
    const verify = verifyId === undefined ? undefined : await verifyRunByRef(db, verifyId, 'id');
    // the keys this host cannot read at all (a key file missing, an entry unreadable): said, not shown as all well (drill
    // X, session 40: `keys k… 12` with the key file gone; `doctor` failed it)
    const { ids: given, problem } = readGivenKeyIds(cfg.backupKeys);
    const keysProblem = problem === undefined ? null : oneLine(problem, 500);
    const totals = (k: KeptTotals) => ({ ...k, oldest: at(k.oldest), newest: at(k.newest) });
    return {
      target: t,
      timeZone: zone,
      folder: settings.folder,
      reports: { folder: path.join(settings.folder, REPORT_FOLDER), recipients: settings['report-recipients'] },
      offsite: cfg.offsite ? { bucket: cfg.offsite.bucket, prefix: cfg.offsite.prefix, endpoint: cfg.offsite.endpoint ?? null } : null,
      kept: totals(summary.kept),
      kinds: summary.kinds.map(totals),
      verify: summary.verify,
      offsiteCopies: summary.offsite,
      // R-BK-14: where the copies are, this host's bucket or another one (NIGHTSHIFT_OFFSITE_S3_BUCKET changed since)
      offsiteBuckets: buckets.map((b) => ({ ...b, lastCopiedAt: at(b.lastCopiedAt), thisHosts: cfg.offsite ? b.bucket === cfg.offsite.bucket : null })),
      keys: summary.keys.map((k) => ({ ...k, givenHere: k.keyId === null ? null : given ? given.has(k.keyId) : null })),
      keysProblem,
      pruned: { generations: summary.pruned.generations, lastAt: at(summary.pruned.lastAt) },
      unreadable: summary.unreadable,
      dossiers: coverage,
      retention: retention.details,
      lastBatch: batch
        ? { id: Number(batch.id), kind: batch.kind, state: batch.state, startedAt: at(batch.started_at), finishedAt: at(batch.finished_at), total: batch.total, ok: batch.ok, failed: batch.failed }
        : null,
      lastVerify: verify
        ? { id: Number(verify.id), state: verify.state, startedAt: at(verify.started_at), finishedAt: at(verify.finished_at), total: verify.total, problems: verify.problems }
        : null,
    };
  });
}

/** KeptTotals with its times in the operator's zone. */
type ShownTotals = Omit<KeptTotals, 'oldest' | 'newest'> & { oldest: string | null; newest: string | null };

interface Info {
  target: string;
  timeZone: string;
  folder: string;
  /** where the batch and verification reports go, and who is mailed on a problem (R-BK-7, R-BK-8, as this host resolves them) */
  reports: { folder: string; recipients: string[] };
  offsite: { bucket: string; prefix: string; endpoint: string | null } | null;
  kept: ShownTotals;
  kinds: ShownTotals[];
  verify: { ok: number; unverified: number; corrupt: number; missing: number };
  offsiteCopies: { copied: number; failed: number; none: number };
  /** every bucket copies are recorded in; thisHosts null: this host has no bucket */
  offsiteBuckets: (Omit<BucketCopies, 'lastCopiedAt'> & { lastCopiedAt: string | null; thisHosts: boolean | null })[];
  keys: { keyId: string | null; generations: number; givenHere: boolean | null }[];
  /** this host's key configuration cannot be read (no key is then known to be given here) */
  keysProblem: string | null;
  pruned: { generations: number; lastAt: string | null };
  unreadable: { codes: string[]; total: number };
  dossiers: { registered: number; nightly: number; uncovered: string[]; uncoveredTotal: number; modified: number };
  retention: ResolvedRetention[];
  lastBatch: { id: number; kind: string; state: string; startedAt: string | null; finishedAt: string | null; total: number; ok: number; failed: number } | null;
  lastVerify: { id: number; state: string; startedAt: string | null; finishedAt: string | null; total: number; problems: number } | null;
  /** the newest prune of the target in Temporal (null: none there); status `unknown`: Temporal not reached */
  lastPrune: PruneOutcome<string | null> | null;
}

const n = (v: number) => v.toLocaleString('en-US');
/** The codes shown, and how many more there are. */
const firstCodes = (shown: string[], total: number) => `${shown.join(', ')}${total > shown.length ? ` and ${n(total - shown.length)} more` : ''}`;

/**
 * R-BK-14: the buckets the copies are in, one line each, when one is not this host's (NIGHTSHIFT_OFFSITE_S3_BUCKET changed
 * since they were made, or set on the workers only): restores, verifications and prunes reach each copy in its own bucket.
 */
function bucketLines(buckets: Info['offsiteBuckets']): string[] {
  if (!buckets.some((b) => b.thisHosts !== true)) return [];
  const width = Math.max(...buckets.map((b) => b.bucket.length));
  return buckets.map((b) => {
    const what = [`${n(b.copied)} kept generation(s) of ${n(b.dossiers)} dossier(s) copied`, ...(b.failed ? [`${n(b.failed)} failed`] : []), ...(b.pruned ? [`${n(b.pruned)} pruned whose copy the next prune deletes`] : [])];
    const last = b.lastCopiedAt ? `, the last at ${b.lastCopiedAt}` : '';
    const whose =
      b.thisHosts === true
        ? " (this host's bucket)"
        : `: ${b.thisHosts === false ? "not this host's bucket" : 'a bucket'}; restores and verifications read these copies there, prunes delete them there: keep the workers' access to it until retention has pruned them`;
    return `    s3://${b.bucket.padEnd(width)}  ${what.join(', ')}${last}${whose}`;
  });
}

/** The text rendering: one line per subject, the worrying ones with what to do. */
export function infoText(i: Info): string {
  const gens = (k: { generations: number; bytes: number; dossiers: number }) => `${n(k.generations)} generation(s) of ${n(k.dossiers)} dossier(s), ${sizeText(k.bytes)}`;
  const lines = [`backup store of target ${i.target}; times in ${i.timeZone}`, `  folder       ${i.folder}`];
  const to = i.reports.recipients;
  lines.push(`  reports      ${i.reports.folder}; ${to.length ? `mailed on a problem to ${to.join(', ')}` : `mailed to nobody: no report recipients are set (R-BK-8; ${SET_RECIPIENTS_HINT})`}`);
  // one off-site line: where this host copies, and what the kept generations' copies are (recorded by any worker)
  const o = i.offsiteCopies;
  const copies = `${n(o.copied)} copied, ${n(o.none)} not copied, ${n(o.failed)} failed`;
  const where = i.offsite ? `s3://${i.offsite.bucket}/${i.offsite.prefix}${i.offsite.endpoint ? ` at ${i.offsite.endpoint}` : ''}` : 'none on this host (NIGHTSHIFT_OFFSITE_S3_BUCKET unset)';
  lines.push(`  off-site     ${where}${i.kept.generations && (i.offsite || o.copied || o.failed) ? `; kept generations: ${copies}` : ''}`);
  lines.push(...bucketLines(i.offsiteBuckets));
  if (!i.kept.generations) lines.push(`  kept         no generation: nothing backed up yet ('nightshift backup run' backs up the modified dossiers)`);
  else {
    lines.push(`  kept         ${gens(i.kept)}; oldest ${i.kept.oldest}, newest ${i.kept.newest}`);
    for (const k of i.kinds) lines.push(`    ${String(k.kind).padEnd(13)}${gens(k)}; newest ${k.newest}`);
    const v = i.verify;
    const bad = v.corrupt + v.missing;
    const u = i.unreadable;
    const codes = firstCodes(u.codes, u.total);
    lines.push(
      `  verified     ${n(v.ok)} ok, ${n(v.unverified)} not verified yet, ${n(v.corrupt)} corrupt, ${n(v.missing)} missing` +
        (bad ? ` (of ${codes}: 'nightshift backup list CODE' shows which; the next batch backs up again a dossier whose newest normal archive is so, R-BK-13; an EchangePrest or Cloture one only at its next event, R-BK-9)` : ''),
    );
    const lacking = i.keys.filter((k) => k.givenHere === false);
    lines.push(
      `  keys         ${i.keys.map((k) => `${k.keyId ?? 'plain'} ${n(k.generations)}${k.givenHere === false ? ' (not given on this host)' : ''}`).join(', ')}` +
        (lacking.length ? `: restoring or verifying those fails with BackupKeyMissing; give the key again, or let retention prune them` : ''),
    );
    if (i.keysProblem) lines.push(`               but this host's keys cannot be read (${i.keysProblem}): every encrypted generation is unreadable here; 'nightshift doctor' says more`);
  }
  lines.push(`  pruned       ${n(i.pruned.generations)} generation(s)${i.pruned.lastAt ? `, the last at ${i.pruned.lastAt}` : ''}`);
  const d = i.dossiers;
  lines.push(
    `  dossiers     ${n(d.registered)} registered, ${n(d.nightly)} in the nightly selection (R-BK-2), ${n(d.modified)} of them modified since their last backup` +
      (d.uncoveredTotal
        ? `; ${n(d.uncoveredTotal)} of them without any kept generation: ${firstCodes(d.uncovered, d.uncoveredTotal)} (the next batch takes them)`
        : ''),
  );
  const b = i.lastBatch;
  lines.push(
    `  last batch   ${b ? `run ${b.id}${b.kind === 'retry' ? ' (retry)' : ''}, started ${b.startedAt}, ${b.state}${b.finishedAt ? ` at ${b.finishedAt}` : ''}: ${n(b.ok)} / ${n(b.total)} dossier(s) backed up, ${n(b.failed)} failed` : 'none yet'}`,
  );
  const v = i.lastVerify;
  lines.push(
    `  last verify  ${v ? `run ${v.id}, started ${v.startedAt}, ${v.state}${v.finishedAt ? ` at ${v.finishedAt}` : ''}: ${n(v.total)} generation(s), ${n(v.problems)} with a problem` : "none yet ('nightshift backup verify' reads back what is kept)"}`,
  );
  lines.push(`  last prune   ${pruneOutcomeSummary(i.lastPrune, (t) => t ?? '?')}`);
  lines.push(`  retention    ${i.retention.map((r) => `${r.kind} ${retentionText(r.policy)} (${r.source})`).join('; ')}`);
  return lines.join('\n');
}
