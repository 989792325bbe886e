import { pageUnknown, renderPage } from '../../gate/page';

/** The notice page's words alone (the routes: notices.test.ts, three-targets.test.ts). */

test('R-MW-4 a status that could not be read is "state unknown", never "no maintenance" (tester: said so during a window, database down)', () => {
  const content = { notices: [{ target: 'main', state: 'unavailable' as const }], named: false };
  expect(pageUnknown(content)).toBe(true);
  const fr = renderPage('App', 'fr', content);
  expect(fr).toContain('<section class="unknown"><p><strong>État inconnu</strong></p>');
  expect(fr).not.toContain('Aucune maintenance');
  expect(fr).not.toMatch(/\bmain\b/);
  const en = renderPage('App', 'en', content);
  expect(en).toContain('The service status cannot be read right now');
  expect(en).not.toContain('No maintenance');
  const open = { notices: [{ target: 'main', state: 'open' as const }], named: false };
  expect(pageUnknown(open)).toBe(false);
  expect(renderPage('App', 'fr', open)).toContain('Aucune maintenance annoncée.');
  expect(pageUnknown({ perTarget: true })).toBe(false);
});
