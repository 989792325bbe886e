import { ident } from '../../db/ident';

/** A grantee in GRANT / REVOKE: PUBLIC is a keyword, every other role a quoted identifier. */
export function roleSql(role: string): string {
  return role === 'PUBLIC' ? 'PUBLIC' : ident(role);
}
