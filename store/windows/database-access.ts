import type { Queryable } from '../queryable';

export interface DatabaseAccess {
  database: string;
  /** the role Nightshift connects as */
  me: string;
  super: boolean;
  /** whether that role owns the database (or is a member of its owner) */
  owner: boolean;
  /** roles (or 'PUBLIC') with CONNECT that are not Nightshift's own */
  grantees: string[];
}

/** Who may connect to the current database (R-MW-8), read before the drain revokes anything. */
export async function databaseAccess(db: Queryable): Promise<DatabaseAccess> {
  const r = await db.query<DatabaseAccess>(
    `SELECT d.datname AS database, current_user AS me, r.rolsuper AS super, pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
                coalesce((SELECT array_agg(DISTINCT (CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE g.rolname::text END))
                            FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a
                            LEFT JOIN pg_roles g ON g.oid = a.grantee
                           WHERE a.privilege_type = 'CONNECT'
                             AND CASE WHEN a.grantee = 0 THEN true ELSE NOT pg_has_role(current_user, a.grantee, 'MEMBER') END), '{}'::text[]) AS grantees
           FROM pg_database d JOIN pg_roles r ON r.rolname = current_user
          WHERE d.datname = current_database()`,
  );
  return r.rows[0]!;
}
