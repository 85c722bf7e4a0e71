// DPoP's algorithm comes from the server's metadata (`dpop_signing_alg_values_supported`): against oidc-provider
// configured to take only some algorithms, which refuses a proof signed with any other.
import { decodeJwt, decodeProtectedHeader } from 'jose'
import type { AsymmetricSigningAlgorithm } from 'oidc-provider'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, OptionError } from '../../../src/index.js'
import { type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import {
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
} from '../../helpers/oidc-provider.js'

/** The public app, its endpoints discovered, with DPoP; every proof it sends is kept. */
function discoveringApp(server: AuthServer, proofs: string[], dpop: OAuth2Options['dpop'] = true) {
  return createSessionFetch({
    baseURL: server.apiURL,
    fetch: (input, init) => {
      const proof = new Headers(init?.headers).get('dpop')
      if (proof) proofs.push(proof)
      return fetch(input, init)
    },
    protocol: oauth2({ issuer: server.issuer, clientId: CLIENTS.public.clientId, resource: RESOURCE, dpop }),
  })
}

describe('the DPoP algorithm, from the metadata', () => {
  for (const [listed, expected] of [
    [['ES384'], 'ES384'],
    [['RS256'], 'RS256'],
    [['PS256', 'ES512'], 'PS256'],
    [['EdDSA', 'ES256'], 'ES256'],
  ] as const) {
    test(`a server that takes ${listed.join(', ')} gets ${expected} proofs, from the token requests to the API`, async () => {
      const server = await startAuthServer({ dpop: { algs: [...listed] } })
      const proofs: string[] = []
      const api = discoveringApp(server, proofs)
      const code = await authorize(server, CLIENTS.public.clientId)
      const session = await api.login({ grant: 'authorization_code', ...code })
      expect(session.token_type).toBe('DPoP')
      expect((await api.fetch('/me')).status).toBe(200)
      await api.refresh()
      expect((await api.fetch('/me/again')).status).toBe(200)

      expect(proofs).toHaveLength(4) // the code exchange, an API request, the refresh, an API request
      expect(proofs.map((proof) => decodeProtectedHeader(proof).alg)).toEqual(Array(4).fill(expected))
      expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
      expect(server.proofRefusals).toEqual([])
      expect(decodeJwt(proofs[1] as string).htu).toBe(`${server.apiURL}/me`)
    })
  }

  test('no algorithm in common: an OptionError naming dpop, and no token request', async () => {
    const server = await startAuthServer({ dpop: { algs: ['ES256K'] } })
    const proofs: string[] = []
    const api = discoveringApp(server, proofs)
    const code = await authorize(server, CLIENTS.public.clientId)
    const error = await api.login({ grant: 'authorization_code', ...code }).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(OptionError)
    expect(error).toMatchObject({ option: 'dpop' })
    expect(String(error)).toMatch(/lists none of the DPoP algorithms .* dpop_signing_alg_values_supported/)
    expect(server.counters.token).toBe(0)
    expect(proofs).toEqual([])
    expect(server.tokenEvents).toEqual([])
  })

  test('a key pair of an algorithm the server does not list: an OptionError naming dpop, and no token request', async () => {
    const server = await startAuthServer({ dpop: { algs: ['ES384'] as AsymmetricSigningAlgorithm[] } })
    const keyPair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const proofs: string[] = []
    const api = discoveringApp(server, proofs, { keyPair })
    const code = await authorize(server, CLIENTS.public.clientId)
    const error = await api.login({ grant: 'authorization_code', ...code }).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(OptionError)
    expect(error).toMatchObject({ option: 'dpop' })
    expect(String(error)).toMatch(/signs ES256, which the server does not list/)
    expect(server.counters.token).toBe(0)
    expect(proofs).toEqual([])
  })
})
