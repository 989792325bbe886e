import { readdirSync } from 'node:fs';
import path from 'node:path';
import { ApplicationFailure, log } from '@temporalio/activity';
import { FailureType, permanentFailure } from '../domain/failures';
import { CLOSE_ACK_SECONDS, type WindowState, type WindowType, heartbeatSeconds } from '../domain/maintenance';
import { describeWindow, maintenanceMailText, type MaintenanceMail } from '../domain/maintenance-text';
import { issuesText, maintenanceWindowInputSchema } from '../domain/maintenance-input';
import {
  AVAILABLE_PAYLOADS,
  MaintenanceFailure,
  type DbAccessSnapshot,
  type MaintenancePhase,
  type MaintenanceWindowInput,
} from '../workflows/maintenance-window.api';
import type { ActivityDeps } from './deps';
import { withTransaction } from '../store/transaction';
import { ping } from '../store/gate/ping';
import { activeWindow } from '../store/windows/active-window';
import { appliedMigrations } from '../store/windows/applied-migrations';
import { databaseAccess } from '../store/windows/database-access';
import { dossiersWithoutSchema } from '../store/windows/dossiers-without-schema';
import { forceCloseSessions } from '../store/windows/force-close-sessions';
import { grantConnect } from '../store/windows/grant-connect';
import { insertWindow } from '../store/windows/insert-window';
import { orderSessionsClosed } from '../store/windows/order-sessions-closed';
import { revokeConnect } from '../store/windows/revoke-connect';
import { sessionsForcedSince } from '../store/windows/sessions-forced-since';
import { sessionsLeft } from '../store/windows/sessions-left';
import { setWindowState } from '../store/windows/set-window-state';
import { runsSinceWindow, type LedgerRun } from '../store/windows/runs-since-window';
import { terminateOtherBackends } from '../store/windows/terminate-other-backends';
import { updateWindow } from '../store/windows/update-window';
import { withdrawCloseOrders } from '../store/windows/withdraw-close-orders';

/**
 * The maintenance window's I/O (R-MW-*) on the tables of migration 0003: the window row the gate
 * reads, session close orders (R-MW-7), the database-level drain (R-MW-8), post-checks and the
 * closing e-mail (R-MW-10). Times that must follow the workflow's clock arrive as ISO strings.
 */

export interface SessionsStep {
  /** Sessions closed by force in this step (close_by passed). */
  forced: number;
  /** Sessions told to close in this step. */
  ordered: number;
  /** Live sessions after the step. */
  live: number;
  /** Live sessions told to close and not yet gone. */
  pendingOrders: number;
  /** Earliest close_by among the pending orders. */
  nextCloseBy: string | null;
  /** Latest close_by among the pending orders (absent from steps recorded before it was read). */
  lastCloseBy?: string | null;
  /**
   * Sessions closed by force since the window's start (given `since`), the gate's heartbeat included: it forces a told
   * session 10 s past its deadline while the window's workflow cannot (absent from steps recorded before it was read).
   */
  forcedSince?: number;
}

export type { MaintenanceMail, MaintenanceMailKind } from '../domain/maintenance-text';

export function createMaintenanceActivities({ pools, config, mail }: ActivityDeps) {
  // the migrations this worker's code needs, as it started (it migrated the targets then): a newer checkout on disk
  // under a worker not restarted yet is not what the post-checks hold the target to
  const knownMigrations = readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .map((f) => f.replace(/\.sql$/, ''))
    .sort();
  return {
    /**
     * First activity of a window: validates the input again (it may come from another client than
     * the CLI) and inserts the row. The unique index of 0003 refuses a second active window even
     * when two operators start at the same instant (R-MW-2).
     */
    async insertMaintenanceWindow(args: { windowId: string; workflowId: string; input: MaintenanceWindowInput }): Promise<void> {
      const parsed = maintenanceWindowInputSchema.safeParse(args.input);
      if (!parsed.success) throw permanentFailure(FailureType.InvalidInput, issuesText(parsed.error));
      const input = parsed.data;
      if (!AVAILABLE_PAYLOADS.includes(input.payload.kind)) {
        throw ApplicationFailure.create({
          type: MaintenanceFailure.PayloadUnavailable,
          nonRetryable: true,
          message: `payload "${input.payload.kind}" is not available yet: only ${AVAILABLE_PAYLOADS.join(', ')} can run in a maintenance window for now`,
        });
      }
      const pool = pools.get(input.target);
      try {
        // ON CONFLICT (id): a retry after a lost acknowledgement finds its own row and succeeds.
        await insertWindow(pool, {
          id: args.windowId,
          workflowId: args.workflowId,
          type: input.type,
          startsAt: input.startsAt,
          endsAt: input.endsAt,
          preventLoginsFrom: input.preventLoginsFrom,
          message: input.message,
          cutoffSeconds: input.cutoffSeconds,
        });
      } catch (err) {
        if ((err as { code?: string; constraint?: string }).constraint === 'maintenance_window_one_active') {
          const existing = await activeWindow(pool);
          throw ApplicationFailure.create({
            type: MaintenanceFailure.WindowExists,
            nonRetryable: true,
            message: existing
              ? `target ${input.target} already has a ${describeWindow(existing, config.timeZone)}: cancel it first`
              : `target ${input.target} already has an active maintenance window: cancel it first`,
          });
        }
        throw err;
      }
    },

    /** Writes the editable fields (R-MW-1, R-MW-11): the gate shows the new times at once. */
    async updateMaintenanceWindow(args: {
      target: string;
      windowId: string;
      type: WindowType;
      startsAt: string;
      endsAt: string;
      preventLoginsFrom?: string;
      message?: string;
      cutoffSeconds?: number | null;
    }): Promise<void> {
      const { target, windowId, ...fields } = args;
      await updateWindow(pools.get(target), windowId, fields);
    },

    /**
     * Moves the row's state and phase (and outcome, when given); completed/cancelled gives access back to users (gateStateAt), and
     * in the same transaction withdraws the close orders of the sessions still open (R-MW-7, R-MW-12).
     */
    async setMaintenanceWindowState(args: { target: string; windowId: string; state: WindowState; phase: MaintenancePhase; outcome?: string }): Promise<void> {
      const pool = pools.get(args.target);
      if (args.state !== 'completed' && args.state !== 'cancelled') {
        // a failed window's outcome is its failure: `maintenance status` says it when no worker answers (R-OP-1)
        await setWindowState(pool, args.windowId, args.state, args.phase, args.outcome);
        return;
      }
      const withdrawn = await withTransaction(pool, async (c) => {
        await setWindowState(c, args.windowId, args.state, args.phase, args.outcome);
        return withdrawCloseOrders(c);
      });
      if (withdrawn) log.info('access back: close orders withdrawn', { target: args.target, state: args.state, sessions: withdrawn });
    },

    /**
     * One pass over the sessions (R-MW-7): close by force the live ones whose close_by is at or before
     * the workflow's cutoff (or all of them at the end of the grace), then tell every live session
     * without an order to close within CLOSE_ACK_SECONDS. Idempotent, like the gate's own orders.
     */
    async closeSessionsStep(args: { target: string; cutoff: string; closeAll?: boolean; since?: string }): Promise<SessionsStep> {
      return withTransaction(pools.get(args.target), async (c) => {
        const forced = await forceCloseSessions(c, args.cutoff, args.closeAll === true);
        // told by their next heartbeat, within an interval: the 15 s run from then (R-MW-7); this deadline is for a
        // session no heartbeat tells any more
        const ordered = await orderSessionsClosed(c, heartbeatSeconds(config.sessionTimeoutSeconds) + CLOSE_ACK_SECONDS);
        const row = await sessionsLeft(c);
        return {
          forced,
          ordered,
          live: row.live,
          pendingOrders: row.pending,
          nextCloseBy: row.next ? row.next.toISOString() : null,
          lastCloseBy: row.last ? row.last.toISOString() : null,
          ...(args.since ? { forcedSince: await sessionsForcedSince(c, args.since) } : {}),
        };
      });
    },

    /**
     * Reads who may connect to the target database (R-MW-8), before anything is revoked, so that the
     * workflow's history holds exactly what to give back.
     */
    async snapshotDatabaseAccess(args: { target: string }): Promise<DbAccessSnapshot> {
      const row = await databaseAccess(pools.get(args.target));
      if (!row.super && !row.owner) {
        throw ApplicationFailure.create({
          type: MaintenanceFailure.DbDrainRefused,
          nonRetryable: true,
          message: `--db-drain needs the Nightshift role (${row.me}) to own database ${row.database} or be a superuser`,
        });
      }
      // every other grantee loses CONNECT: a role that connects only through PUBLIC or a group would lock itself out
      if (!row.super && !row.ownConnect) {
        throw ApplicationFailure.create({
          type: MaintenanceFailure.DbDrainRefused,
          nonRetryable: true,
          message: `--db-drain needs the Nightshift role (${row.me}) to hold CONNECT on database ${row.database} in its own name or be a superuser: GRANT CONNECT ON DATABASE ${row.database} TO ${row.me}`,
        });
      }
      // the snapshot names PUBLIC by the keyword: a role of that very name would be given CONNECT back as PUBLIC and never lose its own
      if (row.publicNamedRole) {
        throw ApplicationFailure.create({
          type: MaintenanceFailure.DbDrainRefused,
          nonRetryable: true,
          message: `--db-drain cannot tell the role named "PUBLIC" from PUBLIC (every role) on database ${row.database}: rename it (ALTER ROLE "PUBLIC" RENAME TO …) or run the window without --db-drain`,
        });
      }
      return { database: row.database, nightshiftRole: row.me, revoked: [...row.grantees].sort() };
    },

    /**
     * Refuses new connections from every role of the snapshot (R-MW-8). Nightshift's role is a superuser
     * or keeps its own CONNECT, so its own control-schema connections keep working.
     */
    async revokeDatabaseAccess(args: { target: string; snapshot: DbAccessSnapshot }): Promise<void> {
      const { snapshot } = args;
      if (!snapshot.revoked.length) return;
      await withTransaction(pools.get(args.target), async (c) => {
        await revokeConnect(c, snapshot.database, snapshot.revoked);
      });
      log.info('database drain: new connections refused', { database: snapshot.database, revoked: snapshot.revoked });
    },

    /** Gives back exactly what the drain took (idempotent: GRANT twice is harmless). */
    async restoreDatabaseAccess(args: { target: string; snapshot: DbAccessSnapshot }): Promise<void> {
      const { snapshot } = args;
      if (!snapshot.revoked.length) return;
      const missing = await withTransaction(pools.get(args.target), (c) => grantConnect(c, snapshot.database, snapshot.revoked));
      if (missing.length) log.warn('database drain: roles dropped during the window, not granted again', { database: snapshot.database, missing });
      log.info('database drain: access given back', { database: snapshot.database, granted: snapshot.revoked.filter((r) => !missing.includes(r)) });
    },

    /** After the grace: ends the backends of other roles on the target database (R-MW-8). */
    async terminateOtherBackends(args: { target: string }): Promise<number> {
      return terminateOtherBackends(pools.get(args.target));
    },

    /**
     * Post-checks before access is given back (R-MW-10): the database answers, every migration is
     * applied, every registered dossier still has its schema. Problems are returned, not thrown.
     */
    async runPostChecks(args: { target: string }): Promise<{ ok: boolean; problems: string[] }> {
      const db = pools.get(args.target);
      const problems: string[] = [];
      await ping(db);
      const applied = await appliedMigrations(db);
      for (const f of knownMigrations) if (!applied.has(f)) problems.push(`migration ${f} is not applied`);
      for (const d of await dossiersWithoutSchema(db)) problems.push(`dossier ${d.code}: schema ${d.schema_name} is missing`);
      return { ok: problems.length === 0, problems };
    },

    /**
     * The backup batches and patch runs claimed since the window's row was written (issue 12): the
     * window links the ones started by hand from its details. Read-only, run as a local activity.
     */
    async runsInWindow(args: { target: string; windowId: string }): Promise<LedgerRun[]> {
      return runsSinceWindow(pools.get(args.target), args.windowId);
    },

    /** R-MW-10: the notification list's e-mail. Without a transport, logs and reports "not sent". */
    async sendMaintenanceMail(args: { target: string; mail: MaintenanceMail }): Promise<{ sent: boolean; messageId?: string }> {
      const { target, mail: m } = args;
      if (!m.to.length) return { sent: false };
      const { subject, text } = maintenanceMailText(target, m, config.appName, config.timeZone, new Date());
      if (!mail) {
        log.warn('no mail transport configured: maintenance e-mail not sent', { target, kind: m.kind, to: m.to, subject });
        return { sent: false };
      }
      const info = (await mail.sendMail({
        from: { name: config.smtp.fromName, address: config.smtp.fromAddress },
        to: m.to,
        subject,
        text,
      })) as { messageId?: string };
      return { sent: true, messageId: info.messageId };
    },
  };
}

// Not imported from db/migrate: that would load node-pg-migrate (ESM only) into every activity's importer.
const MIGRATIONS_DIR = path.join(__dirname, '..', 'db', 'migrations');

export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
