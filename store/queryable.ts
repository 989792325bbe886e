import type pg from 'pg';

/** What the store functions run on: a pool, or a client inside a caller's transaction. */
export type Queryable = Pick<pg.Pool, 'query'> | Pick<pg.PoolClient, 'query'>;
