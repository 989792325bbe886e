import { archiveFileName, dossierCodeSchema, newDossierSchema, schemaNameFor } from '../../domain/dossier';
import { HOSTILE_CODES } from './hostile-codes';

describe('dossier code (domain/dossier.ts)', () => {
  test.each(HOSTILE_CODES)('refuses a hostile code: %s', (_name, code) => {
    expect(dossierCodeSchema.safeParse(code).success).toBe(false);
    expect(() => schemaNameFor(code)).toThrow();
    expect(() => archiveFileName(code)).toThrow();
  });

  test('refuses what is not a string', () => {
    for (const v of [undefined, null, 42, ['A'], { code: 'A' }]) expect(dossierCodeSchema.safeParse(v).success).toBe(false);
  });

  test('accepts letters, digits, "_" and "-" up to 40 characters, and names schema and archive from them (R-BK-5)', () => {
    for (const code of ['A', 'DEMO0001', 'a_b-C9', 'Z'.repeat(40)]) expect(dossierCodeSchema.parse(code)).toBe(code);
    expect(schemaNameFor('DEMO0001')).toBe('d_DEMO0001');
    expect(archiveFileName('DEMO0001')).toBe('BDEMO0001.SVG');
  });

  test('a new dossier needs a label and gets the documented defaults', () => {
    expect(newDossierSchema.safeParse({ code: 'A', label: '  ' }).success).toBe(false);
    expect(newDossierSchema.safeParse({ code: 'A', label: 'x\u0000' }).success).toBe(false);
    expect(newDossierSchema.parse({ code: 'A', label: 'Garage Martin' })).toEqual({
      code: 'A',
      label: 'Garage Martin',
      role: 'regular',
      copyStatus: 'original',
      flags: { test: false, specific: false, template: false, transferable: true },
    });
  });
});
