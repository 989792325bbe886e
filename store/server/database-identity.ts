import type { Queryable } from '../queryable';

/**
 * What tells one database from another whatever URL reached it (`localhost` or `127.0.0.1`, another user, a DNS
 * alias): the cluster's system identifier and the database's oid in it. The system identifier is null where the role
 * may not read it (pg_control_system is a superuser's and pg_monitor's): then the address the server answered on.
 */
export interface DatabaseIdentity {
  database: string;
  oid: string;
  systemIdentifier: string | null;
  serverAddress: string | null;
  serverPort: number | null;
}

export async function databaseIdentity(db: Queryable): Promise<DatabaseIdentity> {
  const r = await db.query<Omit<DatabaseIdentity, 'systemIdentifier'>>(
    `SELECT current_database() AS database, d.oid::text AS oid, host(inet_server_addr()) AS "serverAddress", inet_server_port() AS "serverPort"
       FROM pg_database d WHERE d.datname = current_database()`,
  );
  let systemIdentifier: string | null = null;
  try {
    systemIdentifier = (await db.query<{ id: string }>('SELECT system_identifier::text AS id FROM pg_control_system()')).rows[0]?.id ?? null;
  } catch (err) {
    if ((err as { code?: unknown }).code !== '42501') throw err;
  }
  return { ...r.rows[0]!, systemIdentifier };
}
