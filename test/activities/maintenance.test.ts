import { MockActivityEnvironment } from '@temporalio/testing';
import { failureTypeOf } from '../../domain/failures';
import { createMaintenanceActivities } from '../../activities/maintenance';
import { maintenanceMailText } from '../../domain/maintenance-text';
import { MaintenanceFailure } from '../../workflows/maintenance-window.api';
import { insertSession, maintenanceStack, quietRuntime, sessions, windowInput, windowRows, type MaintenanceStack } from '../workflows/maintenance-helpers';

/** The maintenance activities on a real database (MockActivityEnvironment for the activity context). */

let stack: MaintenanceStack;
let acts: ReturnType<typeof createMaintenanceActivities>;
const env = new MockActivityEnvironment();
const run = <T>(fn: () => Promise<T>): Promise<T> => env.run(fn) as Promise<T>;

beforeAll(async () => {
  quietRuntime();
  stack = await maintenanceStack();
  acts = createMaintenanceActivities({ config: stack.config, pools: stack.pools });
});
afterAll(() => stack.close());

test('R-MW-2: the first activity validates its input again, inserts once (retry-safe) and refuses a second active window by name', async () => {
  const input = windowInput(stack.target, Date.now());
  const bad = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'x', input: { ...input, endsAt: input.startsAt } })).catch((e: unknown) => e);
  expect(failureTypeOf(bad)).toBe('InvalidInput');
  const hostile = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'x', input: { ...input, notify: ["a@b.c'; DROP TABLE x"] } })).catch((e: unknown) => e);
  expect(failureTypeOf(hostile)).toBe('InvalidInput');

  const id = crypto.randomUUID();
  await run(() => acts.insertMaintenanceWindow({ windowId: id, workflowId: 'maintenance/one', input }));
  await run(() => acts.insertMaintenanceWindow({ windowId: id, workflowId: 'maintenance/one', input })); // a retry
  const second = await run(() => acts.insertMaintenanceWindow({ windowId: crypto.randomUUID(), workflowId: 'maintenance/two', input })).catch((e: unknown) => e);
  expect(failureTypeOf(second)).toBe(MaintenanceFailure.WindowExists);
  expect(String((second as Error).message)).toMatch(/already has a database window scheduled .*maintenance\/one.*cancel it first/);
  expect(await windowRows(stack.pool)).toHaveLength(1);
  await run(() => acts.setMaintenanceWindowState({ target: stack.target, windowId: id, state: 'cancelled', phase: 'cancelled' }));
  expect((await windowRows(stack.pool))[0]!.finishedAt).not.toBeNull();
});

test('R-MW-7: a sessions step forces orders past the cutoff, then orders the others with 15 s to acknowledge', async () => {
  await stack.pool.query('DELETE FROM nightshift.session');
  await insertSession(stack.pool, 'old');
  await insertSession(stack.pool, 'new');
  await stack.pool.query(`UPDATE nightshift.session SET close_requested_at = now() - interval '20 s', close_by = now() - interval '5 s' WHERE user_name = 'old'`);
  await stack.pool.query(`INSERT INTO nightshift.session (id, user_name, token_hash, expires_at) VALUES ($1, 'expired', 'x', now() - interval '1 s')`, [crypto.randomUUID()]);
  const step = await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }));
  expect(step).toMatchObject({ forced: 1, ordered: 1, live: 1, pendingOrders: 1 });
  const s = await sessions(stack.pool);
  expect(s.get('old')!.close_reason).toBe('forced');
  expect(s.get('new')!.close_by!.getTime() - s.get('new')!.close_requested_at!.getTime()).toBe(15_000);
  expect(s.get('expired')!.close_requested_at).toBeNull();
  // a second pass before the cutoff changes nothing (idempotent, like the gate's own orders)
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString() }))).toMatchObject({ forced: 0, ordered: 0, live: 1 });
  expect(await run(() => acts.closeSessionsStep({ target: stack.target, cutoff: new Date().toISOString(), closeAll: true }))).toMatchObject({ forced: 1, live: 0 });
});

test('R-MW-8: the access snapshot names what the drain takes away, never the Nightshift role', async () => {
  const snap = await run(() => acts.snapshotDatabaseAccess({ target: stack.target }));
  expect(snap.database).toBe(new URL(stack.databaseUrl).pathname.slice(1));
  expect(snap.revoked).toContain('PUBLIC');
  expect(snap.revoked).not.toContain(snap.nightshiftRole);
});

test('R-MW-10: post-checks report a dossier without its schema; the mail texts say what happened', async () => {
  expect(await run(() => acts.runPostChecks({ target: stack.target }))).toEqual({ ok: true, problems: [] });
  await stack.pool.query(`INSERT INTO nightshift.dossier (code, label, schema_name) VALUES ('GHOST', 'Ghost', 'd_ghost')`);
  const r = await run(() => acts.runPostChecks({ target: stack.target }));
  expect(r.ok).toBe(false);
  expect(r.problems).toEqual(['dossier GHOST: schema d_ghost is missing']);
  await stack.pool.query(`DELETE FROM nightshift.dossier WHERE code = 'GHOST'`);

  // without a transport nothing is sent and nothing fails
  expect(await run(() => acts.sendMaintenanceMail({ target: stack.target, mail: { kind: 'completed', to: ['a@example.com'], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' } }))).toEqual({ sent: false });
  const text = maintenanceMailText('main', { kind: 'failed', to: [], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z', failure: 'boom' }, 'APP', 'Europe/Paris', new Date('2020-09-07T11:50:00Z'));
  expect(text.subject).toContain('ÉCHEC');
  expect(text.text).toContain('Fenêtre prévue du 07/09/2020 à 13:00 au 07/09/2020 à 13:45');
  expect(text.text).toContain('nightshift maintenance reopen --target main');
  expect(text.text).toMatch(/^La maintenance de la base de données a échoué le 07\/09\/2020/);
  const deployed = maintenanceMailText('main', { kind: 'completed', to: [], type: 'deployment', startsAt: '2020-09-14T21:25:00Z', endsAt: '2020-09-14T21:30:00Z' }, 'APP', 'Europe/Paris', new Date('2020-09-14T21:30:00Z'));
  expect(deployed.text).toMatch(/^L'installation de la nouvelle version est terminée\./);
  // a cancel that came while the payload ran: the payload was not cut, and the mail says it went to its end
  const interrupted = maintenanceMailText('main', { kind: 'cancelled', to: [], type: 'database', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z' }, 'APP', 'Europe/Paris', new Date('2020-09-07T11:10:00Z'));
  expect(interrupted.text).toMatch(/^La maintenance de la base de données a été interrompue\. APP est à nouveau disponible depuis le 07\/09\/2020 à 13:10\./);
  const afterPayload = maintenanceMailText(
    'main',
    { kind: 'cancelled', to: [], type: 'deployment', startsAt: '2020-09-07T11:00:00Z', endsAt: '2020-09-07T11:45:00Z', payloadEnded: { kind: 'patch', state: 'completed' } },
    'APP',
    'Europe/Paris',
    new Date('2020-09-07T11:20:00Z'),
  );
  expect(afterPayload.text).toMatch(/^L'installation de la nouvelle version a été annulée après son traitement : le traitement \(intégration des correctifs\) est allé à son terme \(terminé sans erreur\), les vérifications de fin n'ont pas été faites\. APP est à nouveau disponible/);
  expect(afterPayload.text).not.toContain('interrompue');
});
