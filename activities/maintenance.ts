import fs from 'node:fs/promises';
import path from 'node:path';
import type pg from 'pg';
import { ApplicationFailure, log } from '@temporalio/activity';
import { FailureType, permanentFailure } from '../domain/failures';
import { CLOSE_ACK_SECONDS, formatDateTime, type WindowState, type WindowType } from '../domain/maintenance';
import { issuesText, maintenanceWindowInputSchema } from '../domain/maintenance-input';
import { ident } from '../db/ident';
import {
  AVAILABLE_PAYLOADS,
  MaintenanceFailure,
  type DbAccessSnapshot,
  type MaintenancePhase,
  type MaintenanceWindowInput,
} from '../workflows/maintenance-window.api';
import type { ActivityDeps } from './deps';
import { withTransaction } from './registry';

/**
 * The maintenance window's I/O (R-MW-*) on the tables of migration 0003: the window row the gate
 * reads, session close orders (R-MW-7), the database-level drain (R-MW-8), post-checks and the
 * closing e-mail (R-MW-10). Times that must follow the workflow's clock arrive as ISO strings.
 */

export interface MaintenanceWindowRow {
  id: string;
  workflowId: string;
  type: WindowType;
  state: WindowState;
  phase: string;
  startsAt: Date;
  endsAt: Date;
  preventLoginsFrom: Date | null;
  message: string | null;
  createdAt: Date;
  finishedAt: Date | null;
}

const WINDOW_COLUMNS = `id, workflow_id AS "workflowId", type, state, phase, starts_at AS "startsAt", ends_at AS "endsAt",
  prevent_logins_from AS "preventLoginsFrom", message, created_at AS "createdAt", finished_at AS "finishedAt"`;

/** The scheduled or in-progress window of a target, if any (at most one, R-MW-2). */
export async function activeWindow(db: pg.Pool | pg.PoolClient): Promise<MaintenanceWindowRow | undefined> {
  const r = await db.query<MaintenanceWindowRow>(
    `SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE state IN ('scheduled', 'in_progress')`,
  );
  return r.rows[0];
}

export async function recentWindows(db: pg.Pool, limit = 20): Promise<MaintenanceWindowRow[]> {
  const r = await db.query<MaintenanceWindowRow>(
    `SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window ORDER BY starts_at DESC, created_at DESC LIMIT $1`,
    [limit],
  );
  return r.rows;
}

export async function windowById(db: pg.Pool, id: string): Promise<MaintenanceWindowRow | undefined> {
  const r = await db.query<MaintenanceWindowRow>(`SELECT ${WINDOW_COLUMNS} FROM nightshift.maintenance_window WHERE id = $1`, [id]);
  return r.rows[0];
}

/** Live sessions (R-SE-3): not closed and not expired. */
export async function countLiveSessions(db: pg.Pool): Promise<number> {
  const r = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM nightshift.session WHERE closed_at IS NULL AND expires_at > now()',
  );
  return r.rows[0]?.n ?? 0;
}

export function describeWindow(w: Pick<MaintenanceWindowRow, 'type' | 'startsAt' | 'endsAt' | 'workflowId' | 'state'>, timeZone: string): string {
  const s = formatDateTime(w.startsAt, timeZone);
  const e = formatDateTime(w.endsAt, timeZone);
  return `${w.type} window ${w.state} from ${s.date} ${s.time} to ${e.date} ${e.time} (workflow ${w.workflowId})`;
}

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
}

export type MaintenanceMailKind = 'completed' | 'cancelled' | 'failed';

export interface MaintenanceMail {
  kind: MaintenanceMailKind;
  to: string[];
  type: WindowType;
  startsAt: string;
  endsAt: string;
  failure?: string;
}

export function maintenanceMailText(target: string, mail: MaintenanceMail, appName: string, timeZone: string, now: Date): { subject: string; text: string } {
  const at = formatDateTime(now, timeZone);
  const s = formatDateTime(new Date(mail.startsAt), timeZone);
  const e = formatDateTime(new Date(mail.endsAt), timeZone);
  const what = mail.type === 'database' ? 'maintenance de la base de données' : 'installation de la nouvelle version';
  const period = `Fenêtre prévue du ${s.date} à ${s.time} au ${e.date} à ${e.time} (cible ${target}).`;
  switch (mail.kind) {
    case 'completed':
      return {
        subject: `[${appName}] Maintenance terminée (${target})`,
        text: `La ${what} est terminée. ${appName} est à nouveau disponible depuis le ${at.date} à ${at.time}.\n${period}\n`,
      };
    case 'cancelled':
      return {
        subject: `[${appName}] Maintenance annulée (${target})`,
        text: `La ${what} a été interrompue. ${appName} est à nouveau disponible depuis le ${at.date} à ${at.time}.\n${period}\n`,
      };
    case 'failed':
      return {
        subject: `[${appName}] ÉCHEC de la maintenance (${target}) : service toujours fermé`,
        text:
          `La ${what} a échoué le ${at.date} à ${at.time} : ${mail.failure ?? 'cause inconnue'}.\n` +
          `${appName} reste fermé. Corrigez puis rouvrez : nightshift maintenance reopen --target ${target}\n${period}\n`,
      };
  }
}

export function createMaintenanceActivities({ pools, config, mail }: ActivityDeps) {
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
        await pool.query(
          `INSERT INTO nightshift.maintenance_window (id, workflow_id, type, state, phase, starts_at, ends_at, prevent_logins_from, message)
           VALUES ($1, $2, $3, 'scheduled', 'scheduled', $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
          [args.windowId, args.workflowId, input.type, input.startsAt, input.endsAt, input.preventLoginsFrom ?? null, input.message ?? null],
        );
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
    }): Promise<void> {
      await pools.get(args.target).query(
        `UPDATE nightshift.maintenance_window
            SET type = $2, starts_at = $3, ends_at = $4, prevent_logins_from = $5, message = $6, updated_at = now()
          WHERE id = $1`,
        [args.windowId, args.type, args.startsAt, args.endsAt, args.preventLoginsFrom ?? null, args.message ?? null],
      );
    },

    /** Moves the row's state and phase; completed/cancelled gives access back to users (gateStateAt). */
    async setMaintenanceWindowState(args: { target: string; windowId: string; state: WindowState; phase: MaintenancePhase }): Promise<void> {
      const finished = args.state === 'completed' || args.state === 'cancelled';
      await pools.get(args.target).query(
        `UPDATE nightshift.maintenance_window
            SET state = $2, phase = $3, updated_at = now(), finished_at = CASE WHEN $4 THEN coalesce(finished_at, now()) END
          WHERE id = $1`,
        [args.windowId, args.state, args.phase, finished],
      );
    },

    /**
     * One pass over the sessions (R-MW-7): close by force the live ones whose close_by is at or before
     * the workflow's cutoff (or all of them at the end of the grace), then tell every live session
     * without an order to close within CLOSE_ACK_SECONDS. Idempotent, like the gate's own orders.
     */
    async closeSessionsStep(args: { target: string; cutoff: string; closeAll?: boolean }): Promise<SessionsStep> {
      return withTransaction(pools.get(args.target), async (c) => {
        const forced = await c.query(
          `UPDATE nightshift.session SET closed_at = now(), close_reason = 'forced'
            WHERE closed_at IS NULL AND expires_at > now() AND ($2 OR close_by <= $1::timestamptz)`,
          [args.cutoff, args.closeAll === true],
        );
        const ordered = await c.query(
          `UPDATE nightshift.session SET close_requested_at = now(), close_by = now() + make_interval(secs => $1)
            WHERE closed_at IS NULL AND expires_at > now() AND close_requested_at IS NULL`,
          [CLOSE_ACK_SECONDS],
        );
        const left = await c.query<{ live: number; pending: number; next: Date | null }>(
          `SELECT count(*)::int AS live, count(*) FILTER (WHERE close_requested_at IS NOT NULL)::int AS pending,
                  min(close_by) AS next
             FROM nightshift.session WHERE closed_at IS NULL AND expires_at > now()`,
        );
        const row = left.rows[0]!;
        return {
          forced: forced.rowCount ?? 0,
          ordered: ordered.rowCount ?? 0,
          live: row.live,
          pendingOrders: row.pending,
          nextCloseBy: row.next ? row.next.toISOString() : null,
        };
      });
    },

    /**
     * Reads who may connect to the target database (R-MW-8), before anything is revoked, so that the
     * workflow's history holds exactly what to give back.
     */
    async snapshotDatabaseAccess(args: { target: string }): Promise<DbAccessSnapshot> {
      const r = await pools.get(args.target).query<{ database: string; me: string; super: boolean; owner: boolean; grantees: string[] }>(
        `SELECT d.datname AS database, current_user AS me, r.rolsuper AS super, pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
                coalesce((SELECT array_agg(DISTINCT (CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE g.rolname::text END))
                            FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                            LEFT JOIN pg_roles g ON g.oid = a.grantee
                           WHERE a.privilege_type = 'CONNECT'
                             AND CASE WHEN a.grantee = 0 THEN true ELSE NOT pg_has_role(current_user, a.grantee, 'MEMBER') END), '{}'::text[]) AS grantees
           FROM pg_database d JOIN pg_roles r ON r.rolname = current_user
          WHERE d.datname = current_database()`,
      );
      const row = r.rows[0]!;
      if (!row.super && !row.owner) {
        throw ApplicationFailure.create({
          type: MaintenanceFailure.DbDrainRefused,
          nonRetryable: true,
          message: `--db-drain needs the Nightshift role (${row.me}) to own database ${row.database} or be a superuser`,
        });
      }
      for (const g of row.grantees) if (g !== 'PUBLIC') ident(g);
      return { database: row.database, nightshiftRole: row.me, revoked: [...row.grantees].sort() };
    },

    /**
     * Refuses new connections from application roles (R-MW-8). Nightshift's role is a superuser or the
     * owner (or a member of a kept role), so its own control-schema connections keep working.
     */
    async revokeDatabaseAccess(args: { target: string; snapshot: DbAccessSnapshot }): Promise<void> {
      const { snapshot } = args;
      if (!snapshot.revoked.length) return;
      await withTransaction(pools.get(args.target), async (c) => {
        await c.query(`REVOKE CONNECT ON DATABASE ${ident(snapshot.database)} FROM ${snapshot.revoked.map(roleSql).join(', ')}`);
      });
      log.info('database drain: new connections refused', { database: snapshot.database, revoked: snapshot.revoked });
    },

    /** Gives back exactly what the drain took (idempotent: GRANT twice is harmless). */
    async restoreDatabaseAccess(args: { target: string; snapshot: DbAccessSnapshot }): Promise<void> {
      const { snapshot } = args;
      if (!snapshot.revoked.length) return;
      await withTransaction(pools.get(args.target), async (c) => {
        await c.query(`GRANT CONNECT ON DATABASE ${ident(snapshot.database)} TO ${snapshot.revoked.map(roleSql).join(', ')}`);
      });
      log.info('database drain: access given back', { database: snapshot.database, granted: snapshot.revoked });
    },

    /** After the grace: ends the backends of other roles on the target database (R-MW-8). */
    async terminateOtherBackends(args: { target: string }): Promise<number> {
      const r = await pools.get(args.target).query<{ n: number }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n
           FROM pg_stat_activity
          WHERE datname = current_database() AND usename IS DISTINCT FROM current_user
            AND pid <> pg_backend_pid() AND backend_type = 'client backend'`,
      );
      return r.rows[0]?.n ?? 0;
    },

    /**
     * Post-checks before access is given back (R-MW-10): the database answers, every migration is
     * applied, every registered dossier still has its schema. Problems are returned, not thrown.
     */
    async runPostChecks(args: { target: string }): Promise<{ ok: boolean; problems: string[] }> {
      const db = pools.get(args.target);
      const problems: string[] = [];
      await db.query('SELECT 1');
      const files = (await fs.readdir(MIGRATIONS_DIR)).filter((f) => /^\d+_.+\.sql$/.test(f)).map((f) => f.replace(/\.sql$/, ''));
      const applied = new Set((await db.query<{ name: string }>('SELECT name FROM nightshift.pgmigrations')).rows.map((r) => r.name));
      for (const f of files.sort()) if (!applied.has(f)) problems.push(`migration ${f} is not applied`);
      const broken = await db.query<{ code: string; schema_name: string }>(
        `SELECT code, schema_name FROM nightshift.dossier d
          WHERE NOT EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = d.schema_name) ORDER BY code`,
      );
      for (const d of broken.rows) problems.push(`dossier ${d.code}: schema ${d.schema_name} is missing`);
      return { ok: problems.length === 0, problems };
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

function roleSql(role: string): string {
  return role === 'PUBLIC' ? 'PUBLIC' : ident(role);
}

export type MaintenanceActivities = ReturnType<typeof createMaintenanceActivities>;
