import { EXCLUSIONS_SHOWN, selectionExclusions } from '../../store/dossiers/selection-exclusions';
import { generateDemoDossiers } from '../../registry/demo';
import { createTestStack, type TestStack } from '../helpers/env';

/** R-BK-2: `backup run --only` names the dossiers the nightly selection leaves out; with thousands named, the first few and a count. */

let stack: TestStack;
const pool = () => stack.pools.get('main');

beforeAll(async () => {
  stack = await createTestStack();
  await generateDemoDossiers(pool(), { target: 'main', count: 30, sizeKb: 1, prefix: 'EXC' });
  await pool().query(`UPDATE nightshift.dossier SET is_template = code <> 'EXC0002', is_test = false, is_transferable = true WHERE code LIKE 'EXC%'`);
});
afterAll(async () => {
  await stack.close();
});

test('R-BK-2: the first dossiers left out of the nightly selection in the order named, and how many in all', async () => {
  const codes = Array.from({ length: 30 }, (_, i) => `EXC${String(30 - i).padStart(4, '0')}`);
  const r = await selectionExclusions(pool(), codes);
  expect(r.total).toBe(29);
  expect(r.shown).toHaveLength(EXCLUSIONS_SHOWN);
  expect(r.shown[0]).toEqual({ code: 'EXC0030', why: 'a template' });
  expect(r.shown.map((s) => s.code)).not.toContain('EXC0002');
  expect(await selectionExclusions(pool(), ['EXC0002'])).toEqual({ shown: [], total: 0 });
});
