import { z } from 'zod';
import { ident } from '../db/ident';
import { dossierCodeSchema, dossierFlagsSchema, copyStatuses, dossierRoles } from '../domain/dossier';
import { canonicalColumnType, constraintProblem, indexProblem, sqlTextProblem } from './sql-text';

/**
 * The B{code}.SVG archive format (R-BK-5), version 1.
 *
 *   magic line (plain text)   "NIGHTSHIFT-SVG 1 <codec>\n"                                    plain archive
 *                          or "NIGHTSHIFT-SVG 1 <codec> aes-256-gcm key=<id> salt=<b64url> check=<b64url>\n"
 *                                                                                           encrypted archive
 *   then the compressed frame stream, as is (plain) or inside the encryption envelope (envelope.ts:
 *   AES-256-GCM chunks of 64 KiB + 16-byte tag, per-archive key from HKDF(operator key, salt))
 *   frame = kind (1 byte) + length (uint32 BE) + payload
 *     H header (JSON)
 *     P part start (JSON: kind structure|table|document, name)  D data chunk (bytes)...  E part end (JSON: bytes, sha256)
 *       first part: the structure (JSON), then one part per table (COPY text), then one per document file
 *     M manifest (JSON)
 *     Z end marker (empty)
 *
 * The codec and the encryption sit in the plain magic line because everything else is inside the
 * compressed (and encrypted) stream: `head -1 B0001.SVG` names the key an archive needs. The magic
 * line is in every chunk's authenticated data, so none of its fields can be changed unnoticed.
 */

export const FORMAT_VERSION = 1;
export const MAGIC_PREFIX = 'NIGHTSHIFT-SVG';
/** The magic line is short and bounded: a foreign file is recognised from its first bytes. */
export const MAGIC_MAX_BYTES = 256;

export const CODECS = ['gzip', 'brotli'] as const;
export type Codec = (typeof CODECS)[number];

/** What the magic line of an encrypted archive carries (envelope.ts). */
export interface EnvelopeFields {
  keyId: string;
  salt: Buffer;
  check: Buffer;
}

export function magicLine(codec: Codec, envelope?: EnvelopeFields): string {
  const encryption = envelope
    ? ` aes-256-gcm key=${envelope.keyId} salt=${envelope.salt.toString('base64url')} check=${envelope.check.toString('base64url')}`
    : '';
  return `${MAGIC_PREFIX} ${FORMAT_VERSION} ${codec}${encryption}\n`;
}

export const FrameKind = {
  Header: 0x48, // H
  PartStart: 0x50, // P
  Data: 0x44, // D
  PartEnd: 0x45, // E
  Manifest: 0x4d, // M
  End: 0x5a, // Z
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_HEADER_BYTES = 5;
/** Data chunks are coalesced up to this size; a reader refuses bigger data frames. */
export const DATA_CHUNK_BYTES = 64 * 1024;
export const MAX_DATA_FRAME_BYTES = 1024 * 1024;
/** JSON frames (structure, manifest) stay small; the bound keeps a hostile length from allocating gigabytes. */
export const MAX_JSON_FRAME_BYTES = 64 * 1024 * 1024;
/** Each frame kind's largest payload: a header or part frame is a few hundred bytes, a hostile length is refused at once. */
export const MAX_FRAME_BYTES: Readonly<Record<FrameKind, number>> = {
  [FrameKind.Header]: 64 * 1024,
  [FrameKind.PartStart]: 16 * 1024,
  [FrameKind.Data]: MAX_DATA_FRAME_BYTES,
  [FrameKind.PartEnd]: 1024,
  [FrameKind.Manifest]: MAX_JSON_FRAME_BYTES,
  [FrameKind.End]: 0,
};
export const FRAME_NAMES: Readonly<Record<FrameKind, string>> = {
  [FrameKind.Header]: 'header',
  [FrameKind.PartStart]: 'part start',
  [FrameKind.Data]: 'data',
  [FrameKind.PartEnd]: 'part end',
  [FrameKind.Manifest]: 'manifest',
  [FrameKind.End]: 'end',
};

export function frame(kind: FrameKind, payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  head.writeUInt8(kind, 0);
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function jsonFrame(kind: FrameKind, value: unknown): Buffer {
  return frame(kind, Buffer.from(JSON.stringify(value), 'utf8'));
}

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/);
const isoDate = z.iso.datetime({ offset: true });
const count = z.number().int().min(0);

/**
 * A document's path inside the dossier's documents folder: relative, '/'-separated, no '.' or '..'
 * segment, no empty segment, no NUL or backslash, so that it can never leave the folder on restore.
 */
export const documentPathSchema = z
  .string()
  .min(1)
  .max(1024)
  .refine((p) => !p.includes('\0') && !p.includes('\\'), 'a document path cannot hold NUL or backslash')
  .refine((p) => !p.startsWith('/') && !/^[A-Za-z]:/.test(p), 'a document path must be relative')
  .refine((p) => p.split('/').every((s) => s !== '' && s !== '.' && s !== '..'), 'a document path cannot hold empty, "." or ".." segments');

/** C0 controls, DEL and C1 controls (ESC, OSC, BEL, CSI...): a label is printed on terminals. */
// eslint-disable-next-line no-control-regex
export const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/g;

export const headerSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  code: dossierCodeSchema,
  label: z
    .string()
    .min(1)
    .max(200)
    .refine((l) => !l.match(CONTROL_CHARACTERS), 'holds a control character (ESC, OSC, BEL...)'),
  role: z.enum(dossierRoles),
  copyStatus: z.enum(copyStatuses),
  flags: dossierFlagsSchema,
  patchLevel: count,
  createdAt: isoDate,
  snapshotAt: isoDate,
  codec: z.enum(CODECS),
  /** whether the documents folder was asked for (then restore replaces the folder, even with no file) */
  documentsIncluded: z.boolean(),
});
export type ArchiveHeader = z.infer<typeof headerSchema>;

/** Every name an archive gives a table, column, sequence, constraint or index passes the one quoting helper. */
export const identifierSchema = z.string().refine((name) => {
  try {
    ident(name);
    return true;
  } catch {
    return false;
  }
}, 'not a safe SQL identifier (letters, digits, "_" and "-", up to 63)');

const partKinds = ['structure', 'table', 'document'] as const;
export type PartKind = (typeof partKinds)[number];
export const partStartSchema = z
  .object({ kind: z.enum(partKinds), name: z.string().min(1).max(1024) })
  .refine((p) => p.kind !== 'table' || identifierSchema.safeParse(p.name).success, { path: ['name'], message: 'not a safe SQL identifier' })
  .refine((p) => p.kind !== 'structure' || p.name === 'structure', { path: ['name'], message: 'the structure part is named "structure"' });
export type PartStart = z.infer<typeof partStartSchema>;
export const partEndSchema = z.object({ bytes: count, sha256: sha256Hex });

export const manifestSchema = z.object({
  formatVersion: z.literal(FORMAT_VERSION),
  code: dossierCodeSchema,
  patchLevel: count,
  createdAt: isoDate,
  snapshotAt: isoDate,
  tables: z.array(z.object({ name: identifierSchema, rows: count })),
  documents: z.array(z.object({ path: documentPathSchema, bytes: count })),
  documentsIncluded: z.boolean(),
  parts: z.array(z.object({ kind: z.enum(partKinds), name: z.string().min(1), bytes: count, sha256: sha256Hex })),
});
export type ArchiveManifest = z.infer<typeof manifestSchema>;

/** Catalog text (types, defaults, constraint and index definitions): one expression, never a second statement. */
const sqlText = z.string().min(1).max(100_000);
const bigintText = z.string().regex(/^-?\d{1,20}$/);

export const sequenceSchema = z.object({
  name: identifierSchema,
  type: z.enum(['smallint', 'integer', 'bigint']),
  increment: bigintText,
  min: bigintText,
  max: bigintText,
  start: bigintText,
  cache: bigintText,
  cycle: z.boolean(),
  lastValue: bigintText,
  isCalled: z.boolean(),
  /** table.column that owns it (serial / bigserial) */
  ownedBy: z.object({ table: identifierSchema, column: identifierSchema }).optional(),
});
export type SequenceDef = z.infer<typeof sequenceSchema>;

export const columnSchema = z.object({
  name: identifierSchema,
  /** as format_type() prints it; checked against an allow-list and replaced by its canonical form (structureSchema) */
  type: z.string().min(1).max(200),
  notNull: z.boolean(),
  default: sqlText.optional(),
  identity: z
    .object({ kind: z.enum(['always', 'by-default']), sequence: sequenceSchema.omit({ name: true, ownedBy: true }) })
    .optional(),
  /** GENERATED ALWAYS AS (expr) STORED: not in the COPY data, recomputed on restore */
  generated: sqlText.optional(),
});
export type ColumnDef = z.infer<typeof columnSchema>;

export const structureSchema = z
  .object({
    sequences: z.array(sequenceSchema),
    tables: z.array(z.object({ name: identifierSchema, columns: z.array(columnSchema).min(1) })),
    /** in restore order: primary keys and uniques, checks, exclusions, then foreign keys */
    constraints: z.array(z.object({ table: identifierSchema, name: identifierSchema, definition: sqlText })),
    indexes: z.array(z.object({ name: identifierSchema, definition: sqlText })),
  })
  .superRefine((s, ctx) => {
    // names are safe identifiers by now, so the messages may name them; the archive's SQL text is never quoted back
    const issue = (message: string) => ctx.addIssue({ code: 'custom', message });
    const tables = new Set<string>();
    for (const t of s.tables) {
      if (tables.has(t.name)) issue(`table ${t.name} twice`);
      tables.add(t.name);
      const columns = new Set<string>();
      for (const c of t.columns) {
        const what = `column ${t.name}.${c.name}`;
        if (columns.has(c.name)) issue(`${what} twice`);
        columns.add(c.name);
        if (canonicalColumnType(c.type) === undefined) issue(`${what}: type not allowed (a built-in type as format_type prints it)`);
        for (const [field, text] of [['default', c.default], ['generated expression', c.generated]] as const) {
          const problem = text === undefined ? undefined : sqlTextProblem(text);
          if (problem) issue(`${what}: ${field} is not one plain expression (${problem})`);
        }
      }
    }
    for (const q of s.sequences) {
      if (q.ownedBy && !s.tables.some((t) => t.name === q.ownedBy!.table && t.columns.some((c) => c.name === q.ownedBy!.column))) {
        issue(`sequence ${q.name}: owned by a column outside the archive`);
      }
    }
    for (const c of s.constraints) {
      const problem = tables.has(c.table) ? constraintProblem(c.definition, tables) : 'on a table outside the archive';
      if (problem) issue(`constraint ${c.name}: ${problem}`);
    }
    for (const i of s.indexes) {
      const problem = indexProblem(i.definition, i.name, tables);
      if (problem) issue(`index ${i.name}: ${problem}`);
    }
  })
  // the DDL uses only the canonical type text, rebuilt from the allow-list, never the archive's own
  .transform((s) => ({ ...s, tables: s.tables.map((t) => ({ ...t, columns: t.columns.map((c) => ({ ...c, type: canonicalColumnType(c.type)! })) })) }));
export type Structure = z.infer<typeof structureSchema>;

/** The columns a table's COPY data holds, in order (generated columns are recomputed). */
export function copyColumns(table: Structure['tables'][number]): string[] {
  return table.columns.filter((c) => !c.generated).map((c) => c.name);
}
