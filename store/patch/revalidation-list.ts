import type { Queryable } from '../queryable';

export interface RevalidationList {
  supervisorLevel: number | null;
  /** the first 200 dossiers below the supervisor's level, by code */
  toRevalidate: { code: string; level: number }[];
  toRevalidateCount: number;
}

/** R-PI-9: the supervisor's level and the dossiers below it (first 200, and the count). */
export async function revalidationList(db: Queryable): Promise<RevalidationList> {
  const sup = (await db.query<{ patch_level: number }>(`SELECT patch_level FROM nightshift.dossier WHERE role = 'supervisor'`)).rows[0];
  if (!sup) return { supervisorLevel: null, toRevalidate: [], toRevalidateCount: 0 };
  const { rows } = await db.query<{ code: string; patch_level: number; n: string }>(
    `SELECT code, patch_level, count(*) OVER () AS n FROM nightshift.dossier
      WHERE role <> 'supervisor' AND patch_level < $1 ORDER BY code LIMIT 200`,
    [sup.patch_level],
  );
  return { supervisorLevel: sup.patch_level, toRevalidate: rows.map((r) => ({ code: r.code, level: r.patch_level })), toRevalidateCount: rows.length ? Number(rows[0]!.n) : 0 };
}
