/** Loopback networking helpers shared by the benchmarks and the tests. */
import { createServer, type AddressInfo } from 'node:net';

/** A TCP port free on 127.0.0.1 at the time of asking (the OS picks it; closed again before it returns). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
