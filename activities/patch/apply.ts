import crypto from 'node:crypto';
import type pg from 'pg';
import { patchAppliesTo, rangeText, type RoutingDossier } from '../../domain/patch';
import { installedTreatments, planDossier } from '../../domain/patch-plan';
import { PatchFailure, type DossierPatchOutcome } from '../../workflows/patch-integration.api';
import { applyPatch, type ApplyResult } from '../../store/patch/apply-patch';
import { readDossierPatchState } from '../../store/patch/dossier-patch-state';
import type { StoredPatch } from '../../store/patch/stored-patches';

export type { StoredPatch };

/**
 * The per-dossier patch engine: every pending patch in number order, each in ONE transaction of the
 * dossier's schema (R-PI-8). The same function runs in the workflow's activities and in the bench's
 * plain loop. A dossier failure is an outcome (the dossier stays at its last good patch); only
 * transient problems (connection lost, serialization) are thrown, so that the caller retries.
 *
 * Routing is decided by the plan (planDossier, domain/patch-plan.ts: the function `patch plan` shows,
 * R-PI-10); the database function
 * nightshift.apply_patch (db/migrations/0008_patch-engine.sql) carries one patch out in one statement,
 * so a dossier costs one round trip per patch.
 */

export interface EngineDossier extends RoutingDossier {
  schemaName: string;
  patchLevel: number;
}

/** Problems a retry can cure: connection, server shutdown, resources, serialization/deadlock. */
function isTransientSqlState(code: unknown): boolean {
  if (typeof code !== 'string' || !/^[0-9A-Z]{5}$/.test(code)) return true;
  return /^(08|53|57P)/.test(code) || code === '40001' || code === '40P01';
}

class DossierPatchError extends Error {
  constructor(
    readonly type: string,
    readonly patch: number,
    message: string,
  ) {
    super(message);
  }
}

interface DossierState {
  /** number -> checksum; null before the dossier's first patch */
  ledger: Map<number, string> | null;
  /** treatments the dossier holds, among the names the patches ship */
  treatments: Set<string>;
}

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

async function readState(client: pg.PoolClient, schema: string, names: string[]): Promise<DossierState> {
  const s = await readDossierPatchState(client, schema, names);
  return { ledger: s.ledger ? new Map(s.ledger) : null, treatments: new Set(s.treatments) };
}

/**
 * Brings one dossier up to `patches` (sorted, contiguous), with the supervisor at `supervisorLevel`
 * (R-PI-3: a standard treatment only counts as inherited when the supervisor holds the patch).
 */
export async function patchDossier(
  pool: pg.Pool,
  dossier: EngineDossier,
  patches: StoredPatch[],
  supervisorLevel: number,
  o: { /** store/patch/apply-patch.ts PATCH_LOCK_WAIT_SECONDS by default */ lockWaitSeconds?: number } = {},
): Promise<DossierPatchOutcome> {
  const client = await pool.connect();
  let broken = false;
  const fromLevel = dossier.patchLevel;
  let level = dossier.patchLevel;
  const applied: number[] = [];
  const notes: string[] = [];
  const names = [...new Set(patches.flatMap((p) => p.manifest.treatments.map((t) => t.name)))];
  try {
    let state = await readState(client, dossier.schemaName, names);
    // R-PI-10: the routing is the plan's (domain/patch-plan.ts), the very function `patch plan` shows
    let rest: readonly StoredPatch[] = patches;
    while (rest.length) {
      const plan = planDossier(rest, { dossier: { ...dossier, patchLevel: level }, ledger: state.ledger, treatments: [...state.treatments] }, supervisorLevel);
      let replan: StoredPatch[] | null = null;
      for (const step of plan.steps) {
        if (step.action === 'applied' || step.action === 'at-level') continue;
        const p = rest.find((x) => x.number === step.patch)!;
        const installs = installedTreatments(step).map((name) => {
          const body = p.files[p.manifest.treatments.find((t) => t.name === name)!.file]!;
          return { name, body, checksum: sha256(body) };
        });
        const result = await applyOne(client, dossier, p, level, state.ledger === null, installs, o.lockWaitSeconds);
        if (result.status === 'moved') {
          // restored meanwhile (R-PI-8): its level is what the restore wrote; what this run applied above it is gone with it
          const skipped = Array.from({ length: p.number - 1 - result.level }, (_, i) => result.level + 1 + i);
          const gap = skipped.length ? `: patch ${p.number} would skip ${rangeText(skipped)}` : '';
          level = result.level;
          const kept = applied.filter((n) => n <= result.level);
          applied.splice(0, applied.length, ...kept);
          throw new DossierPatchError(
            PatchFailure.Gap,
            p.number,
            `dossier ${dossier.code} went back to level ${result.level} while this run patched it (restored meanwhile?)${gap}; nothing more applied to it (R-PI-8): bring it up with nightshift patch revalidate ${dossier.code}`,
          );
        }
        if (result.status === 'already') {
          // applied meanwhile by another attempt (under the row lock): read the ledger again, plan the rest from there
          state = await readState(client, dossier.schemaName, names);
          level = Math.max(level, p.number);
          if (state.ledger?.get(p.number) !== p.checksum) {
            throw new DossierPatchError(PatchFailure.ChecksumDrift, p.number, `patch ${p.number} was applied to dossier ${dossier.code} under another checksum: refused (R-PI-8)`);
          }
          replan = rest.filter((x) => x.number > p.number);
          break;
        }
        if (result.status === 'unknown') throw new DossierPatchError(PatchFailure.UnknownDossier, p.number, `dossier ${dossier.code} is no longer registered`);
        if (result.status === 'failed') {
          if (isTransientSqlState(result.sqlstate)) throw Object.assign(new Error(result.message), { code: result.sqlstate });
          throw new DossierPatchError(PatchFailure.SqlFailed, p.number, `patch ${p.number} failed in dossier ${dossier.code} (${result.step}): ${result.message}`);
        }
        state.ledger ??= new Map();
        state.ledger.set(p.number, p.checksum);
        for (const t of installs) state.treatments.add(t.name);
        level = p.number;
        applied.push(p.number);
        notes.push(...step.notes);
      }
      if (replan) {
        rest = replan;
        continue;
      }
      if (plan.refusal) throw new DossierPatchError(plan.refusal.type, plan.refusal.patch, plan.refusal.message);
      break;
    }
    return { code: dossier.code, status: 'ok', fromLevel, toLevel: level, applied, notes };
  } catch (err) {
    if (err instanceof DossierPatchError) {
      return { code: dossier.code, status: 'failed', fromLevel, toLevel: level, applied, failedPatch: err.patch, failureType: err.type, error: err.message, notes };
    }
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** One patch, one statement, one transaction (nightshift.apply_patch). */
async function applyOne(
  client: pg.PoolClient,
  d: EngineDossier,
  p: StoredPatch,
  expectedLevel: number,
  createLedger: boolean,
  installs: { name: string; body: string; checksum: string }[],
  lockWaitSeconds: number | undefined,
): Promise<ApplyResult> {
  const m = p.manifest;
  return applyPatch(client, {
    lockWaitSeconds,
    expectedLevel,
    code: d.code,
    schemaName: d.schemaName,
    number: p.number,
    type: p.type,
    checksum: p.checksum,
    applies: patchAppliesTo(p.type, d),
    createLedger,
    structure: { names: m.structure, bodies: m.structure.map((f) => p.files[f]!) },
    data: { names: m.data, bodies: m.data.map((f) => p.files[f]!) },
    dictionary: m.dictionary,
    protectedFields: m.protectedDictionaryFields,
    installs,
  });
}
