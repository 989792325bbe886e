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
  },
  en: {
    title: 'Service status',
    open: 'Service available.',
    announced: 'Maintenance announced',
    closed: 'Maintenance in progress',
    none: 'No maintenance is announced.',
  },
} as const;

/**
 * Public (R-SE-4): the page shows the maintenance notices only, never a target's name, whether its
 * database answers, or how many sessions are open. Identical notices of several targets show once.
 */
export function renderPage(appName: string, locale: Locale, notices: TargetNotice[]): string {
  const w = WORDS[locale];
  const shown = new Map<string, string>();
  for (const n of notices) {
    if (n.state !== 'announced' && n.state !== 'closed') continue;
    const lines = (n.message ?? '').split('\n').map((l) => `<p>${escapeHtml(l)}</p>`).join('');
    const html = `<section class="${n.state}"><p><strong>${escapeHtml(w[n.state])}</strong></p>${lines}</section>`;
    shown.set(html, html);
  }
  const sections = shown.size ? [...shown.values()].join('\n') : `<section class="open"><p>${escapeHtml(w.none)}</p></section>`;
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>${escapeHtml(appName)} - ${escapeHtml(w.title)}</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}section{border-left:.4rem solid #2a7;padding:.2rem 1rem;margin:1rem 0}.announced{border-color:#e90}.closed{border-color:#c33}</style>
</head>
<body>
<h1>${escapeHtml(appName)} - ${escapeHtml(w.title)}</h1>
${sections}
</body>
</html>
`;
}
