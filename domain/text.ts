import { z } from 'zod';

/**
 * Free text that Nightshift stores or prints (labels, messages, settings, configuration): no character
 * a terminal acts on. C0 controls carry ESC sequences (ANSI, OSC title/clipboard), BEL, CR overwrites;
 * DEL; C1 controls (U+0080-U+009F) are 8-bit CSI/OSC to some terminals. Pure: shared by the CLI, the
 * config, the gate and the workflows.
 */

// Bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) reorder what an operator reads in a
// listing or a log (Trojan Source), the bidirectional marks (U+061C, U+200E, U+200F) turn it too, and the line and
// paragraph separators (U+2028, U+2029) break a listing's line (gate drill): refused and escaped like the controls.
/** The characters beyond C0, DEL and C1 refused and escaped as controls, in a character class. */
export const BIDI_AND_SEPARATORS = '\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069';
/** The same, as an operator reads them in a refusal. */
export const BIDI_AND_SEPARATORS_TEXT = 'U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069, U+2028, U+2029';
const CONTROL = new RegExp(`[\u0000-\u001f\u007f-\u009f${BIDI_AND_SEPARATORS}]`);
const CONTROL_BUT_TAB_LF = new RegExp(`[\u0000-\u0008\u000b-\u001f\u007f-\u009f${BIDI_AND_SEPARATORS}]`);
const CONTROL_ALL = new RegExp(CONTROL.source, 'g');
const CONTROL_BUT_TAB_LF_ALL = new RegExp(CONTROL_BUT_TAB_LF.source, 'g');

export const CONTROL_CHARS_PROBLEM = 'control characters (ESC, BEL, CR, LF, DEL, C1, bidirectional overrides) are not allowed';
/** The same for a text of several lines, where line breaks (LF) and tabs are allowed. */
export const CONTROL_CHARS_PROBLEM_MULTILINE = 'control characters other than line breaks and tabs (ESC, BEL, CR, DEL, C1, bidirectional overrides) are not allowed';

/** multiline: a text of several lines (a window message, a patch description) may hold LF and TAB, nothing else. */
export function hasControlChars(text: string, options: { multiline?: boolean } = {}): boolean {
  return (options.multiline ? CONTROL_BUT_TAB_LF : CONTROL).test(text);
}

/**
 * A text field: no control character (checked before trimming, so a trailing CR/LF is refused, not
 * silently dropped), trimmed, 1 to max characters. `what` names it in the messages.
 */
export function plainTextSchema(what: string, max: number, options: { multiline?: boolean } = {}) {
  return z
    .string({ error: `${what}: expected a text` })
    .refine((v) => !hasControlChars(v, options), options.multiline ? CONTROL_CHARS_PROBLEM_MULTILINE : CONTROL_CHARS_PROBLEM)
    .trim()
    .min(1, `${what} is empty`)
    .max(max, `${what} has at most ${max} characters`);
}

/** Escapes what a terminal would act on: ESC becomes the four characters \x1b, U+202E the six \u202e. keepLines leaves LF and TAB. */
export function terminalSafe(text: string, options: { keepLines?: boolean } = {}): string {
  return text.replace(options.keepLines ? CONTROL_BUT_TAB_LF_ALL : CONTROL_ALL, (c) => {
    const code = c.charCodeAt(0);
    return code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
  });
}

/** An input echoed in a message: bounded and escaped. */
export function shownInput(text: string, max = 60): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return terminalSafe(cut);
}

/** A size as an operator reads it: `512 B`, `1.5 MiB` (binary units, one decimal). */
export function sizeText(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A value as a POSIX shell reads it back: bare when safe, else single-quoted (env files, restart scripts, pg_ctl lines). */
export function shellWord(v: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(v) ? v : `'${v.replaceAll("'", "'\\''")}'`;
}
