/** R-OP-1: what the CLI starts, it names in the Web UI; a deployment without a Web UI (the cluster) gets no false link. */

function linkWith(env: Record<string, string | undefined>): string {
  const saved = { ...process.env };
  Object.assign(process.env, { DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', ...env });
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
  try {
    let link = '';
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { webUiLink } = require('../../cli/commands/backup') as typeof import('../../cli/commands/backup');
      link = webUiLink('backup/main/20261204T101010Z', 'abc');
    });
    return link;
  } finally {
    process.env = saved;
  }
}

test('R-OP-1: the Web UI link follows NIGHTSHIFT_UI_URL; none: said, no link', () => {
  expect(linkWith({ NIGHTSHIFT_UI_URL: undefined, NIGHTSHIFT_UI_PORT: '8433' })).toBe('http://localhost:8433/namespaces/default/workflows/backup%2Fmain%2F20261204T101010Z/abc/history');
  expect(linkWith({ NIGHTSHIFT_UI_URL: 'https://temporal.example.org/' })).toBe('https://temporal.example.org/namespaces/default/workflows/backup%2Fmain%2F20261204T101010Z/abc/history');
  expect(linkWith({ NIGHTSHIFT_UI_URL: 'none' })).toBe('(no Web UI in this deployment: the workflow is backup/main/20261204T101010Z, run abc)');
});
