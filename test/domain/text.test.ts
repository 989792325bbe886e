import { CONTROL_CHARS_PROBLEM, CONTROL_CHARS_PROBLEM_MULTILINE, plainTextSchema, terminalSafe } from '../../domain/text';
import { messageSchema } from '../../domain/maintenance-input';

/** issue 9: free text refuses what a terminal acts on; the refusal names what is allowed where lines are. */

test('a one-line text refuses LF and says so; a text of several lines takes LF and TAB and its refusal does not list LF', () => {
  const label = plainTextSchema('the label', 80);
  expect(label.safeParse('a\nb').error?.issues[0]?.message).toBe(CONTROL_CHARS_PROBLEM);
  expect(messageSchema.safeParse('Maintenance ce soir\n\tdès 22 h').success).toBe(true);
  for (const bad of ['bell\u0007', 'esc\u001b[2J', 'cr\r\nlf', 'del\u007f', 'c1\u009b']) {
    expect(messageSchema.safeParse(bad).error?.issues[0]?.message).toBe(CONTROL_CHARS_PROBLEM_MULTILINE);
  }
});

test('Trojan Source: bidirectional overrides and isolates are refused in free text and escaped when printed; other scripts and joiners are kept', () => {
  const label = plainTextSchema('the label', 80);
  for (const bad of ['\u202eevil', 'a\u2066b\u2069', 'x\u202ay', 'a\u200fb', 'a\u061cb', 'line\u2028break', 'para\u2029graph']) {
    expect(label.safeParse(bad).error?.issues[0]?.message).toBe(CONTROL_CHARS_PROBLEM);
    expect(messageSchema.safeParse(bad).error?.issues[0]?.message).toBe(CONTROL_CHARS_PROBLEM_MULTILINE);
  }
  for (const good of ['Zoë', 'محمد', 'a\u200db', 'Société Générale']) expect(label.safeParse(good).success).toBe(true);
  expect(terminalSafe('\u202eevil\u001b')).toBe('\\u202eevil\\x1b');
  expect(terminalSafe('a\u2028b\u200e')).toBe('a\\u2028b\\u200e');
});
