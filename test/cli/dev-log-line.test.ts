import { terminalLogLine } from '../../cli/commands/dev';

/** `npm run dev`'s terminal: one line per worker warning, the whole record in worker.log (scale drill: ~3 KB of JSON and a stack each). */

test('a partial batch\'s "Workflow failed" warning is one line: message, workflow, the reason, where the record is', () => {
  const reason = 'backup run 3 partial: 5 of 8009 dossier(s) not backed up (DEMO00202: Echec du traitement.); next: nightshift backup retry --target main --run 3';
  const record = JSON.stringify({
    level: 40,
    time: '2026-12-04T23:16:14.790Z',
    service: 'nightshift-worker',
    workflowId: 'backup/main/20261204T231500Z',
    workflowType: 'backupBatchWorkflow',
    err: { type: 'Error', message: reason, stack: `ApplicationFailure: ${reason}\n    at Function.create (failure.ts:228:11)\n    at create (fan-out.ts:422:28)` },
    msg: 'Workflow failed',
  });
  const line = terminalLogLine(`${record}\n`, '/data/logs/worker.log');
  expect(line).toBe(`worker WARN Workflow failed (backup/main/20261204T231500Z): ${reason} [worker.log]\n`);
  expect(line.split('\n')).toHaveLength(2);
});

test('an error without a workflow, a string error, and a line that is not JSON', () => {
  expect(terminalLogLine(JSON.stringify({ level: 50, msg: 'connection lost', error: 'ECONNREFUSED 127.0.0.1:54329' }), 'worker.log')).toBe('worker ERROR connection lost: ECONNREFUSED 127.0.0.1:54329 [worker.log]\n');
  expect(terminalLogLine('plain text', 'worker.log')).toBe('plain text\n');
  expect(terminalLogLine(JSON.stringify({ level: 40, msg: 'x', err: { message: 'a'.repeat(1000) } }), 'w.log').length).toBeLessThan(340);
});
