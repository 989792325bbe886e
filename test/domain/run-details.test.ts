import { DETAILS_FAILURES_SHOWN, codeSpan, escapeMarkdown, etaText, formatDuration, mergeFailures, oneLine, renderRunDetails } from '../../domain/run-details';

/** issue 12.1: what an operator reads in the Web UI's current details, rendered from a run's figures. */

const base = { kind: 'backup batch', target: 'main', phase: 'running', run: 3, done: 202, total: 249, failed: 2, rate: 4.1, etaSeconds: 12 };

test('title with kind, target, phase and run; done / total with the failed count, the rate and the ETA', () => {
  const md = renderRunDetails(base);
  expect(md.split('\n\n')[0]).toBe('**backup batch** on **main**: phase **running** (run 3)');
  expect(md.split('\n\n')[1]).toBe('**202 / 249** dossiers · **2 failed** · 4.1 dossiers/s · about 12 s left');
});

test('R-OP-1: a run that counts something else than dossiers says so (the verification: generations, "with a problem", as its CLI)', () => {
  const md = renderRunDetails({ ...base, kind: 'backup verify', unit: 'generations', failedWord: 'with a problem', done: 222, total: 222, failed: 1, running: false });
  expect(md.split('\n\n')[1]).toBe('**222 / 222** generations · **1 with a problem**');
  expect(renderRunDetails({ ...base, unit: 'generations', failedWord: 'with a problem', failed: 0 }).split('\n\n')[1]).toBe(
    '**202 / 249** generations · 0 with a problem · 4.1 generations/s · about 12 s left',
  );
  expect(md).not.toContain('dossiers');
});

test('stalled: "ETA unknown" with how long nothing ended; the dossiers in flight and for how long', () => {
  const md = renderRunDetails({ ...base, sinceLastEndSeconds: 125, inFlight: [{ code: 'DEMO0030', seconds: 125 }] });
  expect(md).toContain('ETA unknown (nothing ended for 2 min 05 s)');
  expect(md).not.toContain('left');
  expect(md).toContain('In flight: DEMO0030 for 2 min 05 s');
  expect(etaText({ etaSeconds: null, sinceLastEndSeconds: 3, done: 0, total: 5 })).toBe('ETA unknown');
});

test('latest failures as `- CODE: reason` (one line, at most 200 characters, markdown-escaped), 10 shown and "and N more"', () => {
  const failures = Array.from({ length: 12 }, (_, i) => ({ code: `D${i}`, status: 'failed', error: `cannot back up relation v_oops${i}\n(kind *v*) [x](javascript:alert(1)) <b>` }));
  const md = renderRunDetails({ ...base, failed: 14, failures, failuresTotal: 14 });
  const items = md.split('\n').filter((l) => l.startsWith('- '));
  expect(items).toHaveLength(DETAILS_FAILURES_SHOWN + 1);
  expect(items[0]).toBe('- D2: cannot back up relation v\\_oops2 (kind \\*v\\*) \\[x\\](javascript:alert(1)) \\<b\\>');
  expect(items[items.length - 1]).toBe('- and 4 more');
  const long = renderRunDetails({ ...base, failures: [{ code: 'L1', status: 'failed', error: 'y'.repeat(300) }] });
  expect(long).toContain(`- L1: ${'y'.repeat(199)}…`);
});

test('R-OP-1 (drill R, session 40): a stopped batch\'s details list the dossiers that failed before those it never attempted, whatever their number', () => {
  const failures = [
    { code: 'F1', status: 'failed', error: 'EPERM' },
    { code: 'U1', status: 'in_use', error: 'in use' },
    ...Array.from({ length: 13 }, (_, i) => ({ code: `N${String(i).padStart(2, '0')}`, status: 'not_done', error: 'Non traité. the batch was cancelled' })),
  ];
  const items = renderRunDetails({ ...base, failed: 2, failures, failuresTotal: 15 })
    .split('\n')
    .filter((l) => l.startsWith('- '));
  expect(items).toEqual([
    '- F1: EPERM',
    '- U1: in use',
    ...Array.from({ length: 8 }, (_, i) => `- N${String(i).padStart(2, '0')}: not attempted (the batch stopped before it)`),
    '- and 5 more',
  ]);
});

test('the next step is a copyable command in a code span, with ASCII --', () => {
  const md = renderRunDetails({ ...base, phase: 'partial', running: false, nextStep: { text: 'Next: back up again the dossiers not backed up', command: 'nightshift backup retry --target main --run 3' } });
  expect(md.endsWith('Next: back up again the dossiers not backed up: `nightshift backup retry --target main --run 3`')).toBe(true);
  expect(md).not.toContain('dossiers/s');
  expect(codeSpan('a `b` --c')).toBe("`a 'b' --c`");
});

test('helpers: one line, escaping, durations, the newest failures kept', () => {
  expect(oneLine('a\r\n\tb\u001b[31mc')).toBe('a b [31mc');
  expect(escapeMarkdown('a_b*c|d~e')).toBe('a\\_b\\*c\\|d\\~e');
  expect([formatDuration(45), formatDuration(125), formatDuration(3720)]).toEqual(['45 s', '2 min 05 s', '1 h 02 min']);
  const f = (code: string) => ({ code, status: 'failed', error: 'e' });
  expect(mergeFailures([f('A'), f('B')], [f('C')], 2).map((x) => x.code)).toEqual(['B', 'C']);
});
