import { ident } from '../../db/ident';
import type { Queryable } from '../queryable';

/**
 * For the rest of the caller's transaction, unqualified names mean `schema` (undefined: the default
 * path again): the catalog prints names unqualified and a restore creates its tables there.
 */
export async function setLocalSearchPath(db: Queryable, schema: string | undefined): Promise<void> {
  await db.query(`SET LOCAL search_path = ${schema === undefined ? 'DEFAULT' : ident(schema)}`);
}
