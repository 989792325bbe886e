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
    unavailable: 'État inconnu (base de données injoignable).',
  },
  en: {
    title: 'Service status',
    open: 'Service available.',
    announced: 'Maintenance announced',
    closed: 'Maintenance in progress',
    unavailable: 'Unknown state (database unreachable).',
  },
} as const;

export function renderPage(appName: string, locale: Locale, notices: TargetNotice[]): string {
  const w = WORDS[locale];
  const sections = notices
    .map((n) => {
      const heading = `<h2>${escapeHtml(n.target)}</h2>`;
      if (n.state === 'open' || n.state === 'unavailable') return `<section class="${n.state}">${heading}<p>${escapeHtml(w[n.state])}</p></section>`;
      const lines = (n.message ?? '').split('\n').map((l) => `<p>${escapeHtml(l)}</p>`).join('');
      return `<section class="${n.state}">${heading}<p><strong>${escapeHtml(w[n.state])}</strong></p>${lines}</section>`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>${escapeHtml(appName)} - ${escapeHtml(w.title)}</title>
<style>body{font-family:sans-serif;max-width:48rem;margin:2rem auto;padding:0 1rem}section{border-left:.4rem solid #2a7;padding:.2rem 1rem;margin:1rem 0}.announced{border-color:#e90}.closed,.unavailable{border-color:#c33}</style>
</head>
<body>
<h1>${escapeHtml(appName)} - ${escapeHtml(w.title)}</h1>
${sections}
</body>
</html>
`;
}
