import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { readArchive } from '../../archive/reader';
import { ArchiveWriter, WRITE_BATCH_BYTES } from '../../archive/writer';
import { BackupKeyring } from '../../archive/keys';
import { type Codec, FORMAT_VERSION } from '../../archive/format';
import { tempDir } from '../helpers/env';

/**
 * The archive writer packs frames into write batches and encrypts the compressor's output in the same
 * stage (R-BK-5, issue 13.2): whatever the chunk sizes, parts and manifest larger than a batch read
 * back byte for byte, plain and encrypted, gzip and brotli.
 */

const keys = new BackupKeyring([{ id: 'w1', key: crypto.randomBytes(32) }]);

async function roundTrip(codec: Codec, encrypted: boolean, docs: Map<string, Buffer>): Promise<Map<string, Buffer>> {
  const file = path.join(tempDir('writer'), 'BW.SVG');
  fs.writeFileSync(file, '');
  const w = new ArchiveWriter(file, { codec, level: 1 }, encrypted ? keys.current() : undefined);
  const now = new Date().toISOString();
  await w.header({
    formatVersion: FORMAT_VERSION, code: 'W1', label: 'w', role: 'regular', copyStatus: 'original',
    flags: { test: false, specific: false, template: false, transferable: true }, patchLevel: 0, createdAt: now, snapshotAt: now,
    codec, documentsIncluded: true,
  });
  await w.startPart('structure', 'structure');
  await w.data(Buffer.from(JSON.stringify({ sequences: [], tables: [], constraints: [], indexes: [] })));
  await w.endPart();
  let seed = 1;
  for (const [name, data] of docs) {
    await w.startPart('document', name);
    // chunk sizes from 1 byte to well over a frame, as COPY reads and file reads hand them over
    for (let i = 0; i < data.length; ) {
      seed = (seed * 48271) % 0x7fffffff;
      const n = 1 + (seed % 100_000);
      await w.data(data.subarray(i, i + n));
      i += n;
    }
    await w.endPart();
  }
  await w.finish({ formatVersion: FORMAT_VERSION, code: 'W1', patchLevel: 0, createdAt: now, snapshotAt: now, tables: [], documentsIncluded: true });
  const got = new Map<string, Buffer[]>();
  let current = '';
  await readArchive(
    file,
    {
      partStart(p) {
        current = p.name;
        if (p.kind === 'document') got.set(current, []);
      },
      data(chunk) {
        got.get(current)?.push(Buffer.from(chunk));
      },
    },
    keys,
  );
  return new Map([...got].map(([name, chunks]) => [name, Buffer.concat(chunks)]));
}

/** name → sha256 (Jest compares big buffers byte by byte, slowly) */
const digests = (docs: Map<string, Buffer>) => new Map([...docs].map(([name, data]) => [name, crypto.createHash('sha256').update(data).digest('hex')]));

/** half random, half runs: compressible but not trivially */
const content = (bytes: number) => Buffer.concat([crypto.randomBytes(bytes >> 1), Buffer.alloc(bytes - (bytes >> 1), 0x41)]);

describe.each([
  ['gzip', false],
  ['gzip', true],
  ['brotli', true],
] as const)('R-BK-5 archive writer (%s, encrypted %s)', (codec, encrypted) => {
  test('parts larger than a write batch, empty parts and odd chunk sizes read back byte for byte', async () => {
    const docs = new Map([
      ['big.bin', content(3 * WRITE_BATCH_BYTES + 12_345)],
      ['empty.bin', Buffer.alloc(0)],
      ['one-frame.bin', content(64 * 1024)],
      ['small.txt', Buffer.from('x')],
    ]);
    expect(digests(await roundTrip(codec, encrypted, docs))).toEqual(digests(docs));
  });

  test('a manifest larger than a write batch (thousands of documents) is written whole', async () => {
    const docs = new Map(Array.from({ length: 2500 }, (_, i) => [`folder-${i}/${'n'.repeat(60)}-${i}.pdf`, content(i % 300)] as const));
    expect(digests(await roundTrip(codec, encrypted, docs))).toEqual(digests(docs));
  });
});
