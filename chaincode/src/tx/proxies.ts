/**
 * Re-encryption proxies: an organisation registers its proxies' encryption keys; everyone reads them (a patient's
 * client seals kfrags to these keys, so they come from the ledger and not from the node the client talks to).
 */
import { ContractError, DEFAULT_PAGE_SIZE, OBJECT_TYPES, parseProxy, parseProxyRegistration } from '../domain/index.js';
import type { RegisteredProxy } from '../domain/index.js';
import type { Ledger } from '../ledger.js';
import { jsonArgument } from './args.js';
import { requireOrgAdmin } from './authority.js';

/**
 * RegisterProxy({id, encryptionKey}): an administrator of the proxy's organisation registers it. Idempotent: the
 * same id with the same key answers the registered proxy unchanged (nothing is written), so a node registers its
 * proxies at every start. Another key for a registered id is a CONFLICT (a proxy's key is not replaced: grants
 * hold kfrags sealed to it). A key may belong to one proxy only, and never to a participant: a grantee holding a
 * proxy's secret could open that proxy's kfrags itself.
 */
export async function registerProxy(l: Ledger, inputJson: string): Promise<RegisteredProxy> {
  const org = requireOrgAdmin(l);
  const { id, encryptionKey } = parseProxyRegistration(jsonArgument(inputJson, 'proxy'), org);
  const existing = await l.get('proxy', id);
  if (existing !== undefined) {
    if (existing.encryptionKey === encryptionKey) return existing;
    throw new ContractError('CONFLICT', `proxy ${id} is registered with another encryption key (${existing.encryptionKey}); a proxy's key is not replaced`);
  }
  const participant = await l.readText(l.key(OBJECT_TYPES.participantKey, encryptionKey));
  if (participant !== undefined) throw new ContractError('CONFLICT', `proxy.encryptionKey: this key is registered to participant ${participant}`);
  const otherProxy = await l.readText(l.key(OBJECT_TYPES.proxyKey, encryptionKey));
  if (otherProxy !== undefined) throw new ContractError('CONFLICT', `proxy.encryptionKey: this key is registered to proxy ${otherProxy}`);

  const proxy = parseProxy({ id, org, encryptionKey, registeredAt: l.now });
  await l.put('proxy', proxy);
  await l.writeText(l.key(OBJECT_TYPES.proxyKey, encryptionKey), id);
  l.emit('ProxyRegistered', { proxyId: id, org });
  return proxy;
}

/** GetProxies(): every registered proxy of the channel, in id order (scanned a page at a time). */
export async function getProxies(l: Ledger): Promise<RegisteredProxy[]> {
  const out: RegisteredProxy[] = [];
  let bookmark = '';
  do {
    const page = await l.page(OBJECT_TYPES.proxy, [], DEFAULT_PAGE_SIZE, bookmark);
    for (const id of page.ids) out.push(await l.require('proxy', id));
    bookmark = page.bookmark;
  } while (bookmark !== '');
  return out;
}
