import { packageChanges, sqlWithoutComments } from '../../domain/patch-changes';
import type { PatchManifest } from '../../domain/patch';

/** `patch repair` (R-PI-8) tells a comment from a change to what a package does. */

const manifest: Omit<PatchManifest, 'checksum'> = {
  number: 7,
  type: 'standard',
  description: 'seven',
  treatments: [{ name: 'TRT7', file: 'trt.src' }],
  dictionary: [],
  protectedDictionaryFields: [],
  structure: [],
  data: ['data.sql'],
};
const files = { 'trt.src': 'treatment 7\n', 'data.sql': "INSERT INTO t (a) VALUES ('x'); -- one\n" };

test('R-PI-8 comments and spacing go, quoted text and dollar-quoted bodies stay as they are', () => {
  expect(sqlWithoutComments("SELECT 1; -- c\n/* block /* nested */ still */  SELECT\n\t2;")).toBe('SELECT 1; SELECT 2;');
  // a "--" inside a string, an identifier or a body is not a comment
  expect(sqlWithoutComments("SELECT '-- not', \"a--b\"")).not.toBe(sqlWithoutComments("SELECT '-- other', \"a--b\""));
  expect(sqlWithoutComments("SELECT 'it''s -- x'")).toBe("SELECT 'it''s -- x'");
  expect(sqlWithoutComments('DO $f$ BEGIN -- kept\n END $f$;')).toBe('DO $f$ BEGIN -- kept\n END $f$;');
  expect(sqlWithoutComments('SELECT $1')).toBe('SELECT $1');
});

test('R-PI-8 a comment, a description or line endings change nothing a dossier runs; a type, a list or a statement does', () => {
  expect(packageChanges({ manifest, files }, { manifest, files })).toEqual({ what: [], effect: false });
  expect(packageChanges({ manifest, files }, { manifest: { ...manifest, description: 'seven, fixed' }, files: { ...files, 'data.sql': "INSERT INTO t (a)\n  VALUES ('x'); -- two\n" } })).toEqual({
    what: ['its description', 'comments or spacing of data.sql'],
    effect: false,
  });
  expect(packageChanges({ manifest, files }, { manifest, files: { ...files, 'trt.src': 'treatment 7\r\n' } })).toEqual({ what: ['line endings of trt.src'], effect: false });
  expect(packageChanges({ manifest, files }, { manifest: { ...manifest, type: 'specific' }, files: { ...files, 'data.sql': "INSERT INTO t (a) VALUES ('y');" } })).toEqual({
    what: ['type standard → specific (routing, R-PI-3…R-PI-6)', 'the statements of data.sql'],
    effect: true,
  });
  // a treatment's file is stored as it is in each dossier: its spacing is a change
  expect(packageChanges({ manifest, files }, { manifest, files: { ...files, 'trt.src': 'treatment  7\n' } })).toEqual({
    what: ['the content of trt.src (stored as it is in each dossier)'],
    effect: true,
  });
  const more = packageChanges({ manifest, files }, { manifest: { ...manifest, data: ['data.sql', 'more.sql'] }, files: { ...files, 'more.sql': 'SELECT 1;' } });
  expect(more).toEqual({ what: ['its data scripts list', 'more.sql added'], effect: true });
});
