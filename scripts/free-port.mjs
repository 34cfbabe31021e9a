/** A free TCP port on 127.0.0.1 (scripts/kafka.mjs, scripts/kube.mjs and the tests). Plain ESM. */
import { createServer } from 'node:net';

export function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });
}
