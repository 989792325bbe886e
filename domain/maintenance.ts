/**
 * Pure rules of the maintenance window (R-MW-*): what the gate answers at a given instant, and the
 * user-facing texts. Shared by the gate, the workflow and the CLI; no I/O.
 */

export const WINDOW_TYPES = ['database', 'deployment'] as const;
export type WindowType = (typeof WINDOW_TYPES)[number];

export const WINDOW_STATES = ['scheduled', 'in_progress', 'completed', 'cancelled'] as const;
export type WindowState = (typeof WINDOW_STATES)[number];

export const LOCALES = ['fr', 'en'] as const;
export type Locale = (typeof LOCALES)[number];

/** R-MW-7: seconds a told session has to acknowledge before it is closed by force. */
export const CLOSE_ACK_SECONDS = 15;

/** How often a session heartbeats (the gate's login answer says it): a third of the timeout, so that two may be lost. */
export function heartbeatSeconds(timeoutSeconds: number): number {
  return Math.max(1, Math.floor(timeoutSeconds / 3));
}
/** R-MW-8: default drain grace before the work starts. */
export const DEFAULT_DRAIN_GRACE = '5m';

export interface WindowView {
  type: WindowType;
  state: WindowState;
  startsAt: Date;
  endsAt: Date;
  preventLoginsFrom?: Date | null;
}

/** What the gate tells the business application about a target. */
export type GateState = 'open' | 'announced' | 'closed';

/**
 * Decided from the clock and the stored window, not from the workflow's progress: logins are refused
 * from the start instant even if no worker is running (fail closed), and given back only when the
 * workflow marks the window completed or cancelled (R-MW-10, R-MW-12).
 */
export function gateStateAt(window: WindowView | undefined | null, now: Date): GateState {
  if (!window) return 'open';
  if (window.state === 'in_progress') return 'closed';
  if (window.state !== 'scheduled') return 'open';
  if (now.getTime() >= window.startsAt.getTime()) return 'closed';
  return 'announced';
}

/** R-MW-5: new logins are refused (open sessions go on) from preventLoginsFrom, and from start. */
export function loginsRefusedAt(window: WindowView | undefined | null, now: Date): boolean {
  const state = gateStateAt(window, now);
  if (state === 'closed') return true;
  return state === 'announced' && !!window?.preventLoginsFrom && now.getTime() >= window.preventLoginsFrom.getTime();
}

/**
 * dd/MM/yyyy and HH:mm in a time zone, as in the seed ("le 07/09/2020 à 13:00"); a local time that occurs twice (the
 * night clocks move back) carries its offset, `02:30 (UTC+02:00)`: "from 02:30 to 02:30" read as no time at all.
 */
export function formatDateTime(d: Date, timeZone: string): { date: string; time: string } {
  const { date, time } = wallClock(d, timeZone);
  const same = (ms: number) => {
    const o = wallClock(new Date(ms), timeZone);
    return o.date === date && o.time === time;
  };
  const repeated = [30, 60, 120].some((m) => same(d.getTime() - m * 60_000) || same(d.getTime() + m * 60_000));
  return { date, time: repeated ? `${time} (UTC${utcOffset(d, timeZone)})` : time };
}

/**
 * One formatter per zone: formatDateTime reads up to seven wall clocks per call (the repeated-hour check), and the gate
 * calls it for every announcement it answers; building an Intl.DateTimeFormat costs far more than using one.
 */
const WALL_CLOCKS = new Map<string, Intl.DateTimeFormat>();

function wallClock(d: Date, timeZone: string): { date: string; time: string } {
  let f = WALL_CLOCKS.get(timeZone);
  if (!f) WALL_CLOCKS.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })));
  const parts = f.formatToParts(d);
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  return { date: `${get('day')}/${get('month')}/${get('year')}`, time: `${get('hour')}:${get('minute')}` };
}

/** `+02:00` (Intl's `GMT+02:00`; `GMT` alone at UTC). */
function utcOffset(d: Date, timeZone: string): string {
  const name = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'longOffset' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  return name === 'GMT' ? '+00:00' : name.slice(3);
}

/** R-MW-4: the warning shown at login before the start. */
export function announcementText(type: WindowType, startsAt: Date, endsAt: Date, appName: string, locale: Locale, timeZone: string): string {
  const s = formatDateTime(startsAt, timeZone);
  const e = formatDateTime(endsAt, timeZone);
  if (locale === 'en') {
    return type === 'database'
      ? `A database maintenance will take place between ${s.date} at ${s.time} and ${e.date} at ${e.time}. ${appName} will therefore be unavailable during this period.`
      : `A new version will be installed between ${s.date} at ${s.time} and ${e.date} at ${e.time}. ${appName} will therefore be suspended during this period.`;
  }
  return type === 'database'
    ? `Une phase de maintenance de la base de données aura lieu entre le ${s.date} à ${s.time} et le ${e.date} à ${e.time}. ${appName} sera donc indisponible durant cette période.`
    : `Une nouvelle version sera installée entre le ${s.date} à ${s.time} et le ${e.date} à ${e.time}. ${appName} sera donc suspendu durant cette période.`;
}

/**
 * R-MW-6: the refusal of a login from the start. Given `now`, a window still closed past its planned end (failed and
 * waiting for its reopen, R-MW-10, or overrunning) promises no time already gone: the service is back once it is over.
 */
export function refusalText(type: WindowType, endsAt: Date, locale: Locale, timeZone: string, now?: Date): string {
  const overdue = now !== undefined && now.getTime() >= endsAt.getTime();
  const e = formatDateTime(endsAt, timeZone);
  if (locale === 'en') {
    const back = overdue ? 'Service will be available again once the maintenance is over.' : `Service will be available again on ${e.date} at ${e.time}.`;
    return type === 'database' ? `A database maintenance is currently in progress. ${back}` : `A new version is being installed. ${back}`;
  }
  const back = overdue ? 'Le service sera à nouveau disponible dès la fin de la maintenance.' : `Le service sera à nouveau disponible le ${e.date} à ${e.time}.`;
  return type === 'database'
    ? `Une phase de maintenance de la base de données est actuellement en cours. ${back}`
    : `Une nouvelle version est en cours d'installation. ${back}`;
}

/** R-MW-7: the order given to open sessions (the seed shows it as a dialog with an OK button). */
export function closeOrderText(locale: Locale, appName: string): string {
  return locale === 'en'
    ? `A maintenance is starting. Please click OK to close ${appName} cleanly; it will be closed automatically in ${CLOSE_ACK_SECONDS} seconds.`
    : `Une phase de maintenance commence. Cliquez sur OK pour fermer ${appName} proprement ; l'application sera fermée automatiquement dans ${CLOSE_ACK_SECONDS} secondes.`;
}

/** Accept-Language → locale; French is the default (R-MW-4). */
export function pickLocale(acceptLanguage: string | undefined): Locale {
  if (!acceptLanguage) return 'fr';
  const ranked = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { lang: (tag ?? '').split('-')[0] ?? '', q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((x) => x.q > 0)
    .sort((a, b) => b.q - a.q);
  for (const { lang } of ranked) if ((LOCALES as readonly string[]).includes(lang)) return lang as Locale;
  return 'fr';
}
