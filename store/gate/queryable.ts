export type { Queryable } from '../queryable';
