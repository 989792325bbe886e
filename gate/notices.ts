import {
  announcementText,
  formatDateTime,
  gateStateAt,
  loginsRefusedAt,
  refusalText,
  type GateState,
  type Locale,
  type WindowView,
} from '../domain/maintenance';
import type { ActiveWindow } from '../store/gate/active-window-row';

/** What users are told about a target at one instant: the R-MW texts chosen from the window and the clock. */

/** The active window as the gate reads it (store/gate/active-window-row.ts); its statement lives in the store layer (re-exported for the tests). */
export { toWindow, type ActiveWindow, type WindowRow } from '../store/gate/active-window-row';
export { ACTIVE_WINDOW_SQL } from '../store/gate/sql-parts';

export interface TextSettings {
  appName: string;
  timeZone: string;
}

/** R-MW-5 has no seed text: the announcement, prefixed with the fact that logins are already suspended. */
export function earlyBlockText(window: WindowView, locale: Locale, s: TextSettings): string {
  const announcement = announcementText(window.type, window.startsAt, window.endsAt, s.appName, locale, s.timeZone);
  return locale === 'en'
    ? `New logins are suspended until the end of the maintenance. ${announcement}`
    : `Les nouvelles connexions sont suspendues jusqu'à la fin de la maintenance. ${announcement}`;
}

/** The operator's own words (seed 004's notice) follow the standard text on a new line. */
export function withOperatorMessage(text: string, window: ActiveWindow): string {
  return window.message ? `${text}\n${window.message}` : text;
}

export interface Notice {
  state: GateState;
  loginsRefused: boolean;
  /** announcement (R-MW-4), early block (R-MW-5) or refusal (R-MW-6), plus the operator's message */
  message?: string;
}

export function noticeAt(window: ActiveWindow | undefined, now: Date, locale: Locale, s: TextSettings): Notice {
  const state = gateStateAt(window, now);
  const loginsRefused = loginsRefusedAt(window, now);
  if (!window || state === 'open') return { state, loginsRefused };
  if (state === 'closed') {
    return { state, loginsRefused, message: withOperatorMessage(refusalText(window.type, window.endsAt, locale, s.timeZone, now), window) };
  }
  const text = loginsRefused
    ? earlyBlockText(window, locale, s)
    : announcementText(window.type, window.startsAt, window.endsAt, s.appName, locale, s.timeZone);
  return { state, loginsRefused, message: withOperatorMessage(text, window) };
}

/** "07/09/2020 13:45" in the texts' time zone, for the human page. */
export function shortDateTime(d: Date, timeZone: string): string {
  const f = formatDateTime(d, timeZone);
  return `${f.date} ${f.time}`;
}
