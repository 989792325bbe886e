import type { Queryable } from '../queryable';

export interface ConnectGrantees {
  /** the database, quoted */
  database: string;
  /** the roles that exist, quoted by PostgreSQL (format %I: any name the catalog holds), comma-separated; '' when none */
  roles: string;
  /** the roles asked for that no longer exist (dropped meanwhile) */
  missing: string[];
}

/**
 * The database and grantees of a GRANT / REVOKE CONNECT, quoted by PostgreSQL itself: role names come
 * from the catalog and may hold any character, which db/ident's safe alphabet would refuse. 'PUBLIC' is
 * the keyword; a role dropped since the snapshot is left out (a GRANT to it would fail at every retry).
 */
export async function connectGrantees(db: Queryable, database: string, roles: string[]): Promise<ConnectGrantees> {
  const r = await db.query<ConnectGrantees>(
    `SELECT format('%I', $1::text) AS database,
                coalesce(string_agg(CASE WHEN x.role = 'PUBLIC' THEN 'PUBLIC' ELSE format('%I', x.role) END, ', ' ORDER BY x.role)
                           FILTER (WHERE x.role = 'PUBLIC' OR g.rolname IS NOT NULL), '') AS roles,
                coalesce(array_agg(x.role ORDER BY x.role) FILTER (WHERE x.role <> 'PUBLIC' AND g.rolname IS NULL), '{}'::text[]) AS missing
           FROM unnest($2::text[]) AS x(role) LEFT JOIN pg_roles g ON g.rolname = x.role`,
    [database, roles],
  );
  return r.rows[0]!;
}
