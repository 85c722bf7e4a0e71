import { createStore, get, update } from 'idb-keyval'
import { describe } from '../../core/validate.js'
import { OptionError } from '../../errors/option-error.js'
import { DATABASE, OBJECT_STORE } from './browser-store.js'

const isPair = (value: unknown): value is CryptoKeyPair =>
  typeof CryptoKey !== 'undefined' &&
  (value as Partial<CryptoKeyPair> | undefined)?.privateKey instanceof CryptoKey &&
  (value as Partial<CryptoKeyPair>).publicKey instanceof CryptoKey

/**
 * The DPoP key pair of this origin, kept in IndexedDB next to the {@link browserStore} sessions: every tab and
 * every reload signs with the same key, so the tokens the server bound to it (a public client's refresh token
 * too) stay usable. Made on first use: a non-extractable ES256 (P-256) key pair, which IndexedDB keeps as it is
 * (CryptoKeys survive structured clone and stay non-extractable: the private key never becomes bytes a script
 * can read). Of two tabs that make one at the same moment, the first one stored is the one both use. Without
 * IndexedDB, a key pair for this tab alone.
 *
 * @example
 * import { createSessionFetch } from 'session-fetch'
 * import { browserDpopKeyPair, browserStore } from 'session-fetch/browser'
 * import { oauth2 } from 'session-fetch/oauth2'
 *
 * const api = createSessionFetch({
 *   baseURL: 'https://api.example.com',
 *   store: browserStore(),
 *   protocol: oauth2({ issuer: 'https://auth.example.com', clientId: 'spa', dpop: { keyPair: browserDpopKeyPair() } }),
 * })
 */
export async function browserDpopKeyPair(options: { key?: string } = {}): Promise<CryptoKeyPair> {
  const key = options?.key ?? 'default'
  if (typeof key !== 'string' || key === '' || key.length > 200) {
    throw new OptionError(
      'key',
      `expected a non-empty string of at most 200 characters, got ${describe(key)}`,
    )
  }
  const make = () =>
    crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ]) as Promise<CryptoKeyPair>
  if (typeof globalThis.indexedDB === 'undefined') return make()
  const database = createStore(DATABASE, OBJECT_STORE)
  const name = `dpop-key-pair:${key}`
  const kept = await get(name, database)
  if (isPair(kept)) return kept
  const made = await make()
  // Stored only if still absent, in one readwrite transaction: another tab's pair, stored first, wins.
  await update(name, (current: unknown) => (isPair(current) ? current : made), database)
  const stored = await get(name, database)
  return isPair(stored) ? stored : made
}
