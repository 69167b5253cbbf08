/**
 * Registering this node's proxies on the ledger at start (RegisterProxy), so that patients' clients find their keys
 * there. Only proxies the ledger does not have yet are submitted (a restart writes nothing); a proxy registered
 * with another key stops the start: its grants' kfrags are sealed to the registered key, which this node no longer
 * holds (the proxy key directory was lost, regenerated, or comes from another node).
 */
import type { PieLedger } from '../chain/pie-ledger.js';
import { ExchangeError, toExchangeError } from '../exchange/errors.js';
import type { Logger } from '../node/log.js';
import type { ProxyInfo } from './proxy-keys.js';

export async function registerProxies(ledger: PieLedger, local: readonly ProxyInfo[], log: Logger): Promise<void> {
  try {
    const registered = new Map((await ledger.proxies()).map((p) => [p.id, p]));
    for (const proxy of local) {
      const known = registered.get(proxy.id);
      if (known?.encryptionKey === proxy.encryptionKey) continue;
      if (known !== undefined) {
        throw new ExchangeError(
          'CONFLICT',
          `proxy ${proxy.id} is registered on the ledger with key ${known.encryptionKey}, but this node's key file holds ${proxy.encryptionKey}: restore the proxy key directory that belongs to this node`,
        );
      }
      await ledger.registerProxy({ id: proxy.id, encryptionKey: proxy.encryptionKey });
      log.info({ proxyId: proxy.id, encryptionKey: proxy.encryptionKey }, 'proxy registered on the ledger');
    }
  } catch (e) {
    throw toExchangeError(e);
  }
}
