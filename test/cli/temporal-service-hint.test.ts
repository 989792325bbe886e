import { reportError } from '../../cli/context';

/**
 * Drill C (session 37): with Temporal's history service killed, `backup run` printed gRPC's `14 UNAVAILABLE: Not enough
 * hosts to serve the request` and nothing else. The CLI's error line now says which services that means and what to do.
 */

test("an error of Temporal's frontend with no history or matching host behind it says so, and what to do; other errors are as they were", () => {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s) => (written.push(String(s)), true));
  try {
    const outer = new Error('failed to start', { cause: new Error('14 UNAVAILABLE: Not enough hosts to serve the request') });
    expect(reportError(outer, false)).toBe(1);
    expect(written.join('')).toBe(
      "nightshift: 14 UNAVAILABLE: Not enough hosts to serve the request: Temporal's frontend answers, but its history or matching service does not serve " +
        "('nightshift doctor' names which; on a cluster of 'nightshift cluster up', start it again with <dir>/restart/temporal-history or temporal-matching); what was asked was most likely not done\n",
    );
    written.length = 0;
    reportError(new Error('14 UNAVAILABLE: No connection established'), false);
    expect(written.join('')).toBe('nightshift: 14 UNAVAILABLE: No connection established\n');
  } finally {
    spy.mockRestore();
  }
});
