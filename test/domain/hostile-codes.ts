/** Codes that must never become a schema or a file name (issue 2, "Dossier registry"). */
export const HOSTILE_CODES: [string, string][] = [
  ['path traversal', '../x'],
  ['single quote', "a'b"],
  ['double quote', 'a"b'],
  ['NUL byte', 'a\u0000b'],
  ['10 KB string', 'A'.repeat(10 * 1024)],
  ['empty', ''],
  ['accented letter', 'é'],
  ['space', 'a b'],
  ['41 characters', 'A'.repeat(41)],
  // issue 9: a code is never taken for an option (B--yes.SVG, `dossiers delete --yes`)
  ['long option', '--yes'],
  ['short option', '-x'],
  ['leading underscore', '_x'],
  ['ESC', 'A\u001b[2J'],
];
