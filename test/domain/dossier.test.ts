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

  test('issue 9: a code starts with a letter or a digit; "_" and "-" only after it', () => {
    for (const code of ['1', '9-x', 'A_', 'a--b']) expect(dossierCodeSchema.parse(code)).toBe(code);
    for (const code of ['-x', '--yes', '_a', '-1']) expect(dossierCodeSchema.safeParse(code).error?.issues[0]?.message).toMatch(/starts with a letter or a digit/);
  });

  test.each([
    ['ESC (ANSI colour)', 'Garage \u001b[31mMartin'],
    ['OSC title set, BEL-terminated', '\u001b]0;pwned\u0007Garage'],
    ['BEL', 'Garage\u0007'],
    ['C1 CSI', 'Garage\u009b2J'],
    ['DEL', 'Garage\u007f'],
    ['CR', 'Garage\rMartin'],
    ['LF', 'Garage\nMartin'],
    ['TAB', 'Garage\tMartin'],
  ])('a label with a terminal control character (%s) is refused (issue 9)', (_name, label) => {
    const r = newDossierSchema.safeParse({ code: 'A', label });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]).toMatchObject({ path: ['label'], message: expect.stringMatching(/control character/) });
  });

  test('accented and non-Latin labels stay valid', () => {
    for (const label of ['Société Générale d\'Études', 'Łódź Sp. z o.o.', 'Ångström AB', '株式会社']) expect(newDossierSchema.parse({ code: 'A', label }).label).toBe(label);
  });
});
