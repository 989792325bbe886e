import fs from 'node:fs/promises';
import path from 'node:path';
import { PATCH_TYPES, type PatchManifest, type PatchType } from '../domain/patch';
import { writePatchPackage } from './package';

/**
 * Deterministic demo patches for `nightshift patch demo`, the tests and the bench. Over any four
 * consecutive numbers they cover every routing case: standard / specific / vertical / supervisor
 * types (R-PI-6), a standard treatment (R-PI-4), specific names of every form (R-PI-5) including
 * XKEEP shipped again with another body (never overwritten), a dictionary entry with a protected
 * field (R-PI-7), structure (new table or column) and parameter data.
 */

export const DEMO_PROTECTED_FIELD = 'parametrage';
const SPECIFIC_FORMS = (n: number) => [`X${n}A`, `Y${n}B`, `Z${n}C`, `SPE${n}`, `SPV${n}`, `CNS${String(n % 1000).padStart(3, '0')}SPE`];

export function demoPatchType(n: number): PatchType {
  return PATCH_TYPES[(n - 1) % PATCH_TYPES.length]!;
}

export function demoPatchFolder(n: number): string {
  return `P${String(n).padStart(4, '0')}`;
}

/** The manifest (without checksum) and files of demo patch n. */
export function demoPatch(n: number): { manifest: Omit<PatchManifest, 'checksum'>; files: Record<string, string> } {
  const type = demoPatchType(n);
  const files: Record<string, string> = {};
  const treatments: PatchManifest['treatments'] = [];
  const addTreatment = (name: string, body: string) => {
    const file = `treatments/${name}.src`;
    files[file] = body;
    treatments.push({ name, file });
  };
  if (type === 'supervisor') {
    addTreatment(`DOC${n}`, `# standard documentation update ${n}\n`);
  } else {
    addTreatment(`TRT${n}`, `# standard treatment of patch ${n}\nRETURN ${n}\n`);
    addTreatment(SPECIFIC_FORMS(n)[n % 6]!, `# specific treatment of patch ${n}\n`);
    addTreatment('XKEEP', `# XKEEP as shipped by patch ${n}\n`);
  }
  const structure: string[] = [];
  if (type !== 'supervisor') {
    const file = `structure/${String(n).padStart(4, '0')}.sql`;
    files[file] =
      n % 4 === 1
        ? `CREATE TABLE IF NOT EXISTS zpatch_${n} (id integer PRIMARY KEY, libelle text NOT NULL);\n`
        : `ALTER TABLE parametre ADD COLUMN IF NOT EXISTS p${n} text;\n`;
    structure.push(file);
  }
  const dataFile = `data/${String(n).padStart(4, '0')}.sql`;
  files[dataFile] =
    `INSERT INTO parametre (cle, valeur) VALUES ('${type === 'supervisor' ? 'defaut' : 'patch'}.${n}', '{"patch": ${n}}')\n` +
    `  ON CONFLICT (cle) DO UPDATE SET valeur = EXCLUDED.valeur;\n`;
  return {
    manifest: {
      number: n,
      type,
      description: `demo ${type} patch ${n}`,
      treatments,
      dictionary: [
        { key: `ECRAN_${n}`, fields: { libelle: `Ecran ${n}`, largeur: 80 + (n % 40) } },
        { key: 'ECRAN_COMMUN', fields: { libelle: `Commun v${n}`, [DEMO_PROTECTED_FIELD]: `defaut du patch ${n}` } },
      ],
      protectedDictionaryFields: [DEMO_PROTECTED_FIELD],
      structure,
      data: [dataFile],
    },
    files,
  };
}

/** Writes demo patches first … first+count-1 as packages under `dir` (created). */
export async function generateDemoPatches(dir: string, count: number, first = 1): Promise<PatchManifest[]> {
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new Error('count must be a whole number between 1 and 10000');
  if (!Number.isInteger(first) || first < 1) throw new Error('first must be a positive whole number');
  await fs.mkdir(dir, { recursive: true });
  const out: PatchManifest[] = [];
  for (let n = first; n < first + count; n++) {
    const { manifest, files } = demoPatch(n);
    out.push(await writePatchPackage(dir, demoPatchFolder(n), manifest, files));
  }
  return out;
}

/** The template of `nightshift patch new`: every section present, to be edited then sealed. */
export async function writePatchTemplate(dir: string, number: number, type: PatchType, description?: string): Promise<{ folder: string; manifest: PatchManifest }> {
  const folder = demoPatchFolder(number);
  const root = path.join(dir, folder);
  if (await fs.stat(root).catch(() => undefined)) throw new Error(`${root} already exists`);
  const manifest = await writePatchPackage(
    dir,
    folder,
    {
      number,
      type,
      description: description ?? `patch ${number}: describe the change`,
      treatments: [{ name: `TRT${number}`, file: `treatments/TRT${number}.src` }],
      dictionary: [{ key: `ECRAN_${number}`, fields: { libelle: `Ecran ${number}` } }],
      protectedDictionaryFields: [],
      structure: [`structure/${number}.sql`],
      data: [`data/${number}.sql`],
    },
    {
      [`treatments/TRT${number}.src`]: `# treatment TRT${number}: its code goes here\n`,
      [`structure/${number}.sql`]: `-- table structure changes, run in each dossier's schema (search_path set)\n-- ALTER TABLE compte ADD COLUMN IF NOT EXISTS exemple text;\nSELECT 1;\n`,
      [`data/${number}.sql`]: `-- parameter data, run in each dossier's schema after the structure\nSELECT 1;\n`,
    },
  );
  return { folder, manifest };
}
