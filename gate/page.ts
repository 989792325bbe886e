import type { GateState, Locale } from '../domain/maintenance';

/** The small human page (seed 004: the notice shown on the login page, the operator's message during the cut). */

export interface TargetNotice {
  target: string;
  state: GateState | 'unavailable';
  message?: string;
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c]!);
}

const WORDS = {
  fr: {
    title: 'État du service',
    open: 'Service disponible.',
    announced: 'Maintenance annoncée',
    closed: 'Maintenance en cours',
    none: 'Aucune maintenance annoncée.',
    unknown: "L'état du service ne peut pas être lu pour le moment : impossible de dire si une maintenance est annoncée ou en cours. Réessayez dans quelques minutes.",
    unknownHeading: 'État inconnu',
    perTarget: "Les avis de maintenance sont propres à chaque base de données : ouvrez le lien que vous donne l'application (/?target=…).",
  },
  en: {
    title: 'Service status',
    open: 'Service available.',
    announced: 'Maintenance announced',
    closed: 'Maintenance in progress',
    none: 'No maintenance is announced.',
    unknown: 'The service status cannot be read right now: whether a maintenance is announced or in progress cannot be told. Try again in a few minutes.',
    unknownHeading: 'Status unknown',
    perTarget: 'Maintenance notices are per database: open the link your application gives you (/?target=…).',
  },
} as const;

/**
 * What the page shows: the notices of one target (`named`: each headed with its target's name, the page of `?target=`),
 * or, on the bare page of a gate serving several targets, none but where each target's page is (`perTarget`).
 */
export type PageContent = { notices: TargetNotice[]; named: boolean } | { perTarget: true };

/**
 * True when a notice could not be read: the page then says the state is unknown (never "no maintenance", tester: a
 * window was under way while the gate could not read its target's database) and is answered with 503.
 */
export function pageUnknown(content: PageContent): boolean {
  return 'notices' in content && content.notices.some((n) => n.state === 'unavailable');
}

/**
 * Public (R-SE-4): the page shows the maintenance notices only, never how many sessions are open nor why a state
 * could not be read (no error text); a status it cannot read is "unknown", never "no maintenance"; a target's name
 * only over its own notice on its own page (a user of another target never sees it).
 */
export function renderPage(appName: string, locale: Locale, content: PageContent): string {
  const w = WORDS[locale];
  const shown: string[] = [];
  const named = 'named' in content && content.named;
  for (const n of 'notices' in content ? content.notices : []) {
    if (n.state === 'unavailable') {
      const heading = named ? `${n.target} - ${w.unknownHeading}` : w.unknownHeading;
      shown.push(`<section class="unknown"><p><strong>${escapeHtml(heading)}</strong></p><p>${escapeHtml(w.unknown)}</p></section>`);
      continue;
    }
    if (n.state !== 'announced' && n.state !== 'closed') continue;
    const lines = (n.message ?? '').split('\n').map((l) => `<p>${escapeHtml(l)}</p>`).join('');
    const heading = named ? `${n.target} - ${w[n.state]}` : w[n.state];
    shown.push(`<section class="${n.state}"><p><strong>${escapeHtml(heading)}</strong></p>${lines}</section>`);
  }
  const sections = shown.length
    ? shown.join('\n')
    : `<section class="open"><p>${escapeHtml('perTarget' in content ? w.perTarget : w.none)}</p></section>`;
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>${escapeHtml(appName)} - ${escapeHtml(w.title)}</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}section{border-left:.4rem solid #2a7;padding:.2rem 1rem;margin:1rem 0}.announced{border-color:#e90}.closed{border-color:#c33}.unknown{border-color:#888}</style>
</head>
<body>
<h1>${escapeHtml(appName)} - ${escapeHtml(w.title)}</h1>
${sections}
</body>
</html>
`;
}
