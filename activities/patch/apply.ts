import crypto from 'node:crypto';
import type pg from 'pg';
import { ident, qualified } from '../../db/ident';
import { patchAppliesTo, routeTreatment, type PatchManifest, type PatchType, type RoutingDossier } from '../../domain/patch';
import { PatchFailure, type DossierPatchOutcome } from '../../workflows/patch-integration.api';

/**
 * The per-dossier patch engine: every pending patch in number order, each in ONE transaction of the
 * dossier's schema (R-PI-8). The same function runs in the workflow's activities and in the bench's
 * plain loop. A dossier failure is an outcome (the dossier stays at its last good patch); only
 * transient problems (connection lost, serialization) are thrown, so that the caller retries.
 */

export interface StoredPatch {
  number: number;
  type: PatchType;
  checksum: string;
  manifest: PatchManifest;
  files: Record<string, string>;
}

export interface EngineDossier extends RoutingDossier {
  schemaName: string;
  patchLevel: number;
}

/** What the engine keeps in each dossier schema (R-PI-8's APATCH, the treatments, the dictionary). */
const ENGINE_TABLES = `
CREATE TABLE IF NOT EXISTS apatch (
  number      integer PRIMARY KEY,
  type        text NOT NULL,
  checksum    text NOT NULL,
  -- 'applied', or 'not-applicable' for a supervisor-type patch in another dossier (R-PI-6): the level still moves on
  outcome     text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS traitement (
  name          text PRIMARY KEY,
  body          text NOT NULL,
  checksum      text NOT NULL,
  origin_patch  integer NOT NULL,
  updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dictionnaire (
  key     text PRIMARY KEY,
  fields  jsonb NOT NULL
);
`;

/** Problems a retry can cure: connection, server shutdown, resources, serialization/deadlock. */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
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

const sha256 = (s: string) => crypto.createHash('sha256').update(s).digest('hex');

async function readLedger(client: pg.PoolClient, schema: string): Promise<Map<number, string> | null> {
  const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass($1) IS NOT NULL AS ok`, [`${ident(schema)}.apatch`]);
  if (!rows[0]!.ok) return null;
  const ledger = await client.query<{ number: number; checksum: string }>(`SELECT number, checksum FROM ${qualified(schema, 'apatch')}`);
  return new Map(ledger.rows.map((r) => [r.number, r.checksum]));
}

/**
 * Brings one dossier up to `patches` (sorted, contiguous), with the supervisor at `supervisorLevel`
 * (R-PI-3: a standard treatment only counts as inherited when the supervisor holds the patch).
 */
export async function patchDossier(pool: pg.Pool, dossier: EngineDossier, patches: StoredPatch[], supervisorLevel: number): Promise<DossierPatchOutcome> {
  const client = await pool.connect();
  let broken = false;
  const fromLevel = dossier.patchLevel;
  let level = dossier.patchLevel;
  const applied: number[] = [];
  try {
    let ledger = await readLedger(client, dossier.schemaName);
    for (const p of patches) {
      const known = ledger?.get(p.number);
      if (known !== undefined) {
        if (known !== p.checksum) {
          throw new DossierPatchError(
            PatchFailure.ChecksumDrift,
            p.number,
            `patch ${p.number} was applied to dossier ${dossier.code} with checksum ${known.slice(0, 12)}…, the package now has ${p.checksum.slice(0, 12)}…: refused (R-PI-8)`,
          );
        }
        continue;
      }
      // a level recorded without a ledger row (restored or older dossier): already integrated
      if (p.number <= level) continue;
      if (p.number !== level + 1) {
        throw new DossierPatchError(PatchFailure.Gap, p.number, `dossier ${dossier.code} is at patch level ${level}: patch ${level + 1} is missing before patch ${p.number}`);
      }
      const result = await applyOne(client, dossier, p, ledger === null, supervisorLevel);
      if (result === 'already') {
        // applied meanwhile by another attempt (under the row lock): read the ledger again
        ledger = await readLedger(client, dossier.schemaName);
        level = Math.max(level, p.number);
        if (ledger?.get(p.number) !== p.checksum) {
          throw new DossierPatchError(PatchFailure.ChecksumDrift, p.number, `patch ${p.number} was applied to dossier ${dossier.code} under another checksum: refused (R-PI-8)`);
        }
        continue;
      }
      ledger ??= new Map();
      ledger.set(p.number, p.checksum);
      level = p.number;
      applied.push(p.number);
    }
    return { code: dossier.code, status: 'ok', fromLevel, toLevel: level, applied };
  } catch (err) {
    if (err instanceof DossierPatchError) {
      return { code: dossier.code, status: 'failed', fromLevel, toLevel: level, applied, failedPatch: err.patch, failureType: err.type, error: err.message };
    }
    broken = true;
    throw err;
  } finally {
    client.release(broken);
  }
}

/** One patch, one transaction. 'already' when another attempt got there first. */
async function applyOne(client: pg.PoolClient, d: EngineDossier, p: StoredPatch, createLedger: boolean, supervisorLevel: number): Promise<'applied' | 'already'> {
  const schema = d.schemaName;
  const m = p.manifest;
  const applies = patchAppliesTo(p.type, d);
  let step = 'start';
  await client.query(`BEGIN; SET LOCAL search_path = ${ident(schema)}`);
  try {
    // the registry row lock serialises two attempts on one dossier (a worker that was presumed dead)
    const lock = await client.query<{ patch_level: number }>('SELECT patch_level FROM nightshift.dossier WHERE code = $1 FOR UPDATE', [d.code]);
    if (!lock.rows[0]) throw new DossierPatchError(PatchFailure.UnknownDossier, p.number, `dossier ${d.code} is no longer registered`);
    if (lock.rows[0].patch_level >= p.number) {
      await client.query('ROLLBACK');
      return 'already';
    }
    let retrigger = false;
    if (createLedger) {
      step = 'engine tables';
      await client.query(ENGINE_TABLES);
      retrigger = true;
    }
    if (applies) {
      for (const file of m.structure) {
        step = file;
        await client.query(p.files[file]!);
        retrigger = true;
      }
    }
    // R-BK-10: every table (new ones included) carries the touch trigger before the writes below;
    // reinstalling is catalog work on every table, so only when a table lacks it
    if (retrigger) {
      const { rows } = await client.query<{ missing: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
                           AND NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND t.tgname = 'nightshift_touch')) AS missing`,
        [schema],
      );
      if (rows[0]!.missing) await client.query('SELECT nightshift.install_touch_triggers($1)', [schema]);
    }
    if (applies) {
      for (const file of m.data) {
        step = file;
        await client.query(p.files[file]!);
      }
      if (m.dictionary.length) {
        step = 'dictionary';
        // R-PI-7: protected fields an entry already has are kept; everything else comes from the patch
        await client.query(
          `INSERT INTO dictionnaire AS d (key, fields)
           SELECT x.key, x.fields FROM jsonb_to_recordset($1::jsonb) AS x(key text, fields jsonb)
           ON CONFLICT (key) DO UPDATE SET fields = d.fields || EXCLUDED.fields ||
             coalesce((SELECT jsonb_object_agg(k, v) FROM jsonb_each(d.fields) AS e(k, v) WHERE k = ANY($2::text[])), '{}'::jsonb)`,
          [JSON.stringify(m.dictionary), m.protectedDictionaryFields],
        );
      }
      if (m.treatments.length) {
        step = 'treatments';
        const existing = new Set(
          (await client.query<{ name: string }>('SELECT name FROM traitement WHERE name = ANY($1::text[])', [m.treatments.map((t) => t.name)])).rows.map((r) => r.name),
        );
        const installs = m.treatments
          .filter(
            (t) =>
              routeTreatment({ patchType: p.type, name: t.name, dossier: d, exists: existing.has(t.name), supervisorCovered: supervisorLevel >= p.number }) === 'install',
          )
          .map((t) => ({ name: t.name, body: p.files[t.file]!, checksum: sha256(p.files[t.file]!) }));
        if (installs.length) {
          await client.query(
            `INSERT INTO traitement (name, body, checksum, origin_patch)
             SELECT x.name, x.body, x.checksum, $2 FROM jsonb_to_recordset($1::jsonb) AS x(name text, body text, checksum text)
             ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body, checksum = EXCLUDED.checksum, origin_patch = EXCLUDED.origin_patch, updated_at = now()`,
            [JSON.stringify(installs), p.number],
          );
        }
      }
    }
    step = 'ledger';
    await client.query('INSERT INTO apatch (number, type, checksum, outcome) VALUES ($1, $2, $3, $4)', [p.number, p.type, p.checksum, applies ? 'applied' : 'not-applicable']);
    await client.query('UPDATE nightshift.dossier SET patch_level = $2 WHERE code = $1', [d.code, p.number]);
    await client.query('COMMIT');
    return 'applied';
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    if (err instanceof DossierPatchError || isTransientDbError(err)) throw err;
    throw new DossierPatchError(PatchFailure.SqlFailed, p.number, `patch ${p.number} failed in dossier ${d.code} (${step}): ${(err as Error).message}`);
  }
}
