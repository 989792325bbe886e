import type { WindowState, WindowType, WindowView } from '../../domain/maintenance';

/** The columns of nightshift.maintenance_window the gate reads (NULLs when no window is active). */
export interface WindowRow {
  type: WindowType | null;
  state: WindowState | null;
  starts_at: Date | null;
  ends_at: Date | null;
  prevent_logins_from: Date | null;
  message: string | null;
}

export interface ActiveWindow extends WindowView {
  message: string | null;
}

export function toWindow(row: WindowRow | undefined): ActiveWindow | undefined {
  if (!row?.type || !row.state || !row.starts_at || !row.ends_at) return undefined;
  return {
    type: row.type,
    state: row.state,
    startsAt: row.starts_at,
    endsAt: row.ends_at,
    preventLoginsFrom: row.prevent_logins_from,
    message: row.message,
  };
}
