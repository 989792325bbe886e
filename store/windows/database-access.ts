import type { Queryable } from '../queryable';

export interface DatabaseAccess {
  database: string;
  /** the role Nightshift connects as */
  me: string;
  super: boolean;
  /** whether that role owns the database (or is a member of its owner) */
  owner: boolean;
  /** whether that role holds CONNECT in its own name (what lets a non-superuser in once the others are revoked) */
  ownConnect: boolean;
  /** every role (or 'PUBLIC') holding CONNECT but Nightshift's own: its groups and the owner included */
  grantees: string[];
  /** a grantee is a role literally named PUBLIC: in `grantees` it could not be told from the keyword */
  publicNamedRole: boolean;
}

/**
 * Who may connect to the current database (R-MW-8), read before the drain revokes anything. Only the
 * role Nightshift connects as is left out: pg_has_role would be true for every role of a superuser.
 */
export async function databaseAccess(db: Queryable): Promise<DatabaseAccess> {
  const r = await db.query<DatabaseAccess>(
    `SELECT d.datname AS database, current_user AS me, r.rolsuper AS super, pg_has_role(current_user, d.datdba, 'MEMBER') AS owner,
                EXISTS (SELECT 1 FROM aclexplode(acl.items) a WHERE a.privilege_type = 'CONNECT' AND a.grantee = r.oid) AS "ownConnect",
                coalesce((SELECT array_agg(DISTINCT (CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE g.rolname::text END))
                            FROM aclexplode(acl.items) a
                            LEFT JOIN pg_roles g ON g.oid = a.grantee
                           WHERE a.privilege_type = 'CONNECT' AND a.grantee <> r.oid), '{}'::text[]) AS grantees,
                EXISTS (SELECT 1 FROM aclexplode(acl.items) a JOIN pg_roles g ON g.oid = a.grantee
                         WHERE a.privilege_type = 'CONNECT' AND g.rolname = 'PUBLIC') AS "publicNamedRole"
           FROM pg_database d JOIN pg_roles r ON r.rolname = current_user
          CROSS JOIN LATERAL (SELECT coalesce(d.datacl, acldefault('d', d.datdba)) AS items) acl
          WHERE d.datname = current_database()`,
  );
  return r.rows[0]!;
}
