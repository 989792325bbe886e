import net from 'node:net';

/**
 * A free loopback port, for the servers tests and benchmarks start. Its own module (no server
 * libraries) so that test files and bench scripts can import it without global-setup's imports.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}
