import { databaseOutage } from '../../store/server/outage';

// The gate answers 503 to these and, at its start, serves the other targets when one target's database is so (drill G):
// one classification for both (it was written twice, and the two lists had drifted apart).
describe('databaseOutage: a database that does not answer now, not a setting to fix', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03', '53300', '08006', '08001'])(
    'names %s',
    (code) => expect(databaseOutage(withCode(code))).toBe(code),
  );

  it('reads the causes of an AggregateError (a name with several addresses)', () => {
    const err = new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], '');
    expect(databaseOutage(err)).toBe('ECONNREFUSED');
  });

  it("names pg's own timeouts and a connection cut under a query, which carry no code", () => {
    expect(databaseOutage(new Error('timeout expired'))).toBe('timeout');
    expect(databaseOutage(new Error('timeout exceeded when trying to connect'))).toBe('timeout');
    expect(databaseOutage(new Error('Connection terminated unexpectedly'))).toBe('terminated');
  });

  // the tester's three targets: one database closed (ALLOW_CONNECTIONS false) made its logins 500
  it('names a database closed to connections (55000 from CheckMyDatabase, whatever the language), and no other 55000', () => {
    const closed = Object.assign(withCode('55000', 'database "firm_c" is not currently accepting connections'), { routine: 'CheckMyDatabase' });
    expect(databaseOutage(closed)).toBe('55000');
    expect(databaseOutage(Object.assign(withCode('55000', 'la base de données « firm_c » n\'accepte plus les connexions'), { routine: 'CheckMyDatabase' }))).toBe('55000');
    expect(databaseOutage(withCode('55000', 'database "firm_c" is not currently accepting connections'))).toBe('55000');
    expect(databaseOutage(withCode('55000', 'cannot change sequence "s"'))).toBeUndefined();
    expect(databaseOutage(new Error('Client has encountered a connection error and is not queryable'))).toBe('terminated');
  });

  it('leaves alone what an operator must fix and what is not an error of the connection', () => {
    expect(databaseOutage(withCode('28P01', 'password authentication failed for user "x"'))).toBeUndefined();
    expect(databaseOutage(withCode('3D000', 'database "x" does not exist'))).toBeUndefined();
    expect(databaseOutage(withCode('42P01', 'relation "x" does not exist'))).toBeUndefined();
    expect(databaseOutage(withCode('ENOTFOUND'))).toBeUndefined();
    expect(databaseOutage(undefined)).toBeUndefined();
    expect(databaseOutage(null)).toBeUndefined();
    expect(databaseOutage('ECONNREFUSED')).toBeUndefined();
  });
});
