// The DPoP key pair kept in IndexedDB (fake-indexeddb in Node): every "tab" and every "reload" signs with the
// same non-extractable key, so a DPoP-bound session in browserStore() survives a reload, its bound refresh token
// included, against oidc-provider.
import { IDBFactory } from 'fake-indexeddb'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { oauth2 } from '../../../src/protocols/oauth2/index.js'
import { type BrowserStore, browserDpopKeyPair, browserStore } from '../../../src/stores/browser/index.js'
import { authorize, CLIENTS, RESOURCE, startAuthServer } from '../../helpers/oidc-provider.js'

const opened: BrowserStore[] = []
beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory()) // a fresh origin for every test
})
afterEach(() => {
  for (const store of opened.splice(0)) store.close()
  vi.unstubAllGlobals()
})

async function thumbprint(pair: CryptoKeyPair): Promise<string> {
  const { calculateJwkThumbprint, exportJWK } = await import('jose')
  return calculateJwkThumbprint(await exportJWK(pair.publicKey))
}

describe('browserDpopKeyPair', () => {
  test('one key pair per origin and key: made once, the same for every tab and reload, never extractable', async () => {
    const [a, b] = await Promise.all([browserDpopKeyPair(), browserDpopKeyPair()]) // two tabs at once
    const reloaded = await browserDpopKeyPair()
    const other = await browserDpopKeyPair({ key: 'other-api' })
    expect(await thumbprint(a)).toBe(await thumbprint(b))
    expect(await thumbprint(reloaded)).toBe(await thumbprint(a))
    expect(await thumbprint(other)).not.toBe(await thumbprint(a))
    expect(reloaded.privateKey.extractable).toBe(false)
    await expect(crypto.subtle.exportKey('jwk', reloaded.privateKey)).rejects.toThrow()
    await expect(browserDpopKeyPair({ key: '' })).rejects.toMatchObject({ option: 'key' })
  })

  test('without IndexedDB: a key pair for this tab alone', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const [a, b] = await Promise.all([browserDpopKeyPair(), browserDpopKeyPair()])
    expect(await thumbprint(a)).not.toBe(await thumbprint(b))
  })

  test('a DPoP session in browserStore() survives a reload: the stored tokens and the bound refresh token work', async () => {
    const server = await startAuthServer({ dpop: {} })
    const page = () => {
      const store = browserStore({ key: 'spa' })
      opened.push(store)
      return createSessionFetch({
        baseURL: server.apiURL,
        store,
        protocol: oauth2({
          tokenEndpoint: server.tokenEndpoint,
          clientId: CLIENTS.public.clientId,
          resource: RESOURCE,
          dpop: { keyPair: browserDpopKeyPair({ key: 'spa' }) },
        }),
      })
    }
    const before = page()
    await before.login({ grant: 'authorization_code', ...(await authorize(server, CLIENTS.public.clientId)) })
    expect((await before.fetch('/me')).status).toBe(200)
    before.close()

    const after = page() // the reload: a new protocol instance, the session and the key pair from IndexedDB
    expect((await after.fetch('/me')).status).toBe(200)
    const renewed = await after.refresh() // the refresh token is bound to the key: only the same key refreshes
    expect(renewed.token_type).toBe('DPoP')
    expect((await after.fetch('/me')).status).toBe(200)
    expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
    expect(server.proofRefusals).toEqual([])
  })
})
