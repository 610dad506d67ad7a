/**
 * The broker a `describe` block shares: started before its first test, every client the helpers
 * in ./broker.ts made closed after each test (unless `closeClientsAfterEach` is false: then the
 * tests of the block may share clients), and the broker closed after the last.
 *
 *   describe('...', () => {
 *     const b = brokerForSuite({ mqtt: { receive_maximum: 2 } });
 *     test('...', async () => { const c = await connectClient(b.port, 5); ... });
 *   });
 */

import { after, afterEach, before } from 'node:test';
import type { AviaryConfigInput } from '../../src/config/index.js';
import { closeClients, type StartedBroker, startBroker } from './broker.js';

/**
 * Registers the hooks above in the enclosing `describe` and returns the broker they start (over
 * `config`, as `startBroker`); its fields are there from the `before` hook on.
 */
export function brokerForSuite(
  config: AviaryConfigInput = {},
  { closeClientsAfterEach = true }: { closeClientsAfterEach?: boolean } = {},
): StartedBroker {
  let started: StartedBroker | undefined;
  const get = (): StartedBroker => {
    if (started === undefined) throw new Error('the suite broker is not started yet');
    return started;
  };

  before(async () => {
    started = await startBroker(config);
  });

  if (closeClientsAfterEach) afterEach(closeClients);

  after(async () => {
    await closeClients();
    await get().close();
  });

  return {
    get aviary() {
      return get().aviary;
    },
    get port() {
      return get().port;
    },
    get url() {
      return get().url;
    },
    close: () => get().close(),
  };
}
