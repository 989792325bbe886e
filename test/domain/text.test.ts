import { plainTextSchema } from '../../domain/text';
import { messageSchema } from '../../domain/maintenance-input';

/** issue 9: free text refuses what a terminal acts on; the refusal names what is allowed where lines are. */

test('a one-line text refuses LF and says so; a text of several lines takes LF and TAB and its refusal does not list LF', () => {
  const label = plainTextSchema('the label', 80);
  expect(label.safeParse('a\nb').error?.issues[0]?.message).toBe('control characters (ESC, BEL, CR, LF, DEL, C1) are not allowed');
  expect(messageSchema.safeParse('Maintenance ce soir\n\tdès 22 h').success).toBe(true);
  for (const bad of ['bell\u0007', 'esc\u001b[2J', 'cr\r\nlf', 'del\u007f', 'c1\u009b']) {
    expect(messageSchema.safeParse(bad).error?.issues[0]?.message).toBe('control characters other than line breaks and tabs (ESC, BEL, CR, DEL, C1) are not allowed');
  }
});
