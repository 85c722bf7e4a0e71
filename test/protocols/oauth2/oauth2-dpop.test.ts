// DPoP (RFC 9449) against oidc-provider with features.dPoP, and a resource server that verifies every proof
// with jose: signature by the embedded key, its thumbprint against the token's cnf.jkt, htm, htu, ath, a jti
// never seen before, and the nonce when one is required.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import axios from 'axios'
import { decodeJwt } from 'jose'
import { describe, expect, test } from 'vitest'
import { attachSession } from '../../../src/adapters/axios/index.js'
import { sessionInterceptor } from '../../../src/adapters/undici/index.js'
import { createSessionFetch, OptionError } from '../../../src/index.js'
import { type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import {
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
  untilExpired,
} from '../../helpers/oidc-provider.js'

/** A clock only the test moves: the client does not see an expiry coming. */
function standingClock() {
  const now = Date.now()
  return () => now
}

/** The public app with DPoP: oidc-provider binds its refresh tokens to the key as well. */
function publicApp(server: AuthServer, extra: Partial<OAuth2Options> = {}) {
  return oauth2({
    tokenEndpoint: server.tokenEndpoint,
    clientId: CLIENTS.public.clientId,
    resource: RESOURCE,
    dpop: true,
    ...extra,
  })
}

/** A transport that keeps the headers of every request it sends. */
function recording(sent: { url: string; method: string; headers: Headers }[]) {
  return (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
    sent.push({ url, method: init?.method ?? 'GET', headers: new Headers(init?.headers) })
    return fetch(input, init)
  }
}

async function signedIn(server: AuthServer, extra: Partial<OAuth2Options> = {}) {
  const sent: { url: string; method: string; headers: Headers }[] = []
  const api = createSessionFetch({
    baseURL: server.apiURL,
    protocol: publicApp(server, extra),
    fetch: recording(sent),
    now: standingClock(),
  })
  const session = await api.login({
    grant: 'authorization_code',
    ...(await authorize(server, CLIENTS.public.clientId)),
  })
  return { api, session, sent }
}

function refreshEvents(server: AuthServer) {
  return server.tokenEvents.filter((event) => event.grantType === 'refresh_token')
}

describe('DPoP against oidc-provider', () => {
  test('tokens are bound to the key; every request carries a proof for itself; the bound refresh token works', async () => {
    const server = await startAuthServer({ dpop: {} })
    const { api, session, sent } = await signedIn(server)
    expect(session.token_type).toBe('DPoP')
    const claims = decodeJwt(session.access_token) as { cnf?: { jkt?: string } }
    expect(claims.cnf?.jkt).toEqual(expect.any(String))

    expect((await api.fetch('/me?x=1#frag')).status).toBe(200)
    expect((await api.fetch('/items', { method: 'POST', body: '{}' })).status).toBe(200)
    expect(server.acceptedProofs).toEqual([
      expect.objectContaining({ htm: 'GET', htu: `${server.apiURL}/me` }),
      expect.objectContaining({ htm: 'POST', htu: `${server.apiURL}/items` }),
    ])
    // The token requests carried proofs too (no ath there), and the resource requests DPoP, not Bearer.
    const tokenProof = decodeJwt(sent[0]?.headers.get('dpop') as string)
    expect(tokenProof).toMatchObject({ htm: 'POST', htu: server.tokenEndpoint })
    expect(tokenProof.ath).toBeUndefined()
    expect(sent[1]?.headers.get('authorization')).toBe(`DPoP ${session.access_token}`)

    const renewed = await api.refresh() // the refresh token is bound to the same key: a proof by it is required
    expect(renewed.token_type).toBe('DPoP')
    expect(refreshEvents(server)).toEqual([expect.objectContaining({ outcome: 'ok' })])
    expect((await api.fetch('/after-refresh')).status).toBe(200)
    expect(server.proofRefusals).toEqual([])

    // The refresh token is bound: presented without a proof by the key, the provider refuses it.
    const unproven = await fetch(server.tokenEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: renewed.refresh_token as string,
        client_id: CLIENTS.public.clientId,
      }),
    })
    expect(unproven.status).toBe(400)
    expect(await unproven.json()).toMatchObject({ error: 'invalid_grant' })

    // The same token without its proof (as Bearer) is refused.
    const bare = await fetch(`${server.apiURL}/me`, {
      headers: { authorization: `Bearer ${renewed.access_token}` },
    })
    expect(bare.status).toBe(401)
    expect(server.proofRefusals).toEqual(['scheme'])
  })

  test('a storm of 40 concurrent 401s across an expiry: one token request, 40 replays with fresh proofs', async () => {
    const server = await startAuthServer({ accessTokenTtl: 1, dpop: {} })
    const { api, session } = await signedIn(server)
    server.accessTokenTtl = 60
    await untilExpired(session.access_token)
    const tokenCallsBefore = server.counters.token

    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => api.fetch(`/items/${i}`)))

    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200))
    expect(server.counters.api401).toBe(40)
    expect(server.counters.token - tokenCallsBefore).toBe(1)
    expect(refreshEvents(server)).toEqual([
      { grantType: 'refresh_token', refreshToken: session.refresh_token, outcome: 'ok' },
    ])
    expect(api.stats()).toMatchObject({ refreshes: 1, replays: 40 })
    // Every replay had its own proof, for its own URL, bound to the new token (the server refuses a used jti).
    expect(server.acceptedProofs).toHaveLength(40)
    expect(new Set(server.acceptedProofs.map((proof) => proof.jti)).size).toBe(40)
    expect(new Set(server.acceptedProofs.map((proof) => proof.htu)).size).toBe(40)
    expect(new Set(server.acceptedProofs.map((proof) => proof.ath)).size).toBe(1)
    expect(server.proofRefusals).toEqual([])
  })

  test('htu is the URL as sent: scheme and host lower-case, dot segments resolved, percent-encoded, no query', async () => {
    const server = await startAuthServer({ dpop: {} })
    const { api, sent } = await signedIn(server)
    const shouted = server.apiURL.replace('http://', 'HTTP://')
    expect((await api.fetch(`${shouted}/a/./b/../c?q=1#f`)).status).toBe(200)
    expect((await api.fetch('/p q')).status).toBe(200)
    expect((await api.fetch('/%7Ekept/%41')).status).toBe(200)
    expect(server.acceptedProofs.map((proof) => proof.htu)).toEqual([
      `${server.apiURL}/a/c`,
      `${server.apiURL}/p%20q`,
      `${server.apiURL}/%7Ekept/%41`,
    ])
    expect(server.proofRefusals).toEqual([])
    expect(api.stats()).toMatchObject({ refreshes: 0, replays: 0 })
    // What was sent carried the raw string the caller gave; the proof names what fetch made of it.
    expect(sent.map((request) => request.url).slice(-3)[0]).toBe(`${shouted}/a/./b/../c?q=1#f`)
  })

  test('a proof made for one request is refused for any other: htu, htm, ath, and a second use (jti)', async () => {
    const server = await startAuthServer({ dpop: {} })
    const { api, session, sent } = await signedIn(server)
    expect((await api.fetch('/accounts/1')).status).toBe(200)
    const original = sent.find((request) => request.url.endsWith('/accounts/1'))?.headers as Headers
    const replay = (path: string, method = 'GET', authorization = original.get('authorization')) =>
      fetch(`${server.apiURL}${path}`, {
        method,
        headers: { authorization: authorization as string, dpop: original.get('dpop') as string },
      }).then((response) => response.status)

    expect(await replay('/accounts/2')).toBe(401)
    expect(await replay('/accounts/1', 'DELETE')).toBe(401)
    const renewed = await api.refresh()
    expect(await replay('/accounts/1', 'GET', `DPoP ${renewed.access_token}`)).toBe(401)
    expect(await replay('/accounts/1')).toBe(401) // the original token is still valid, but the proof was used
    expect(server.proofRefusals).toEqual(['htu', 'htm', 'ath', 'jti'])
    expect(session.access_token).not.toBe(renewed.access_token)
  })

  test('nonces: the token endpoint and the API each ask once, answered by one retry, no refresh', async () => {
    const server = await startAuthServer({ dpop: { requireNonce: true } })
    server.apiNonce = 'api-nonce-1'
    const { api, sent } = await signedIn(server)
    // The code exchange: a 400 use_dpop_nonce, then the same exchange with the nonce (the code still unused).
    const tokenRequests = sent.filter((request) => request.url === server.tokenEndpoint)
    expect(tokenRequests).toHaveLength(2)
    const [withoutNonce, withNonce] = tokenRequests.map((r) => decodeJwt(r.headers.get('dpop') as string))
    expect(withoutNonce?.nonce).toBeUndefined()
    expect(withNonce?.nonce).toEqual(expect.any(String))
    expect(withNonce?.jti).not.toBe(withoutNonce?.jti)

    expect((await api.fetch('/me')).status).toBe(200)
    expect(server.proofRefusals).toEqual(['nonce'])
    expect((await api.fetch('/me/again')).status).toBe(200) // the nonce is remembered for the origin
    server.apiNonce = 'api-nonce-2' // rotated: one more challenge, one more retry
    expect((await api.fetch('/me/rotated')).status).toBe(200)
    expect(server.proofRefusals).toEqual(['nonce', 'nonce'])
    expect(server.acceptedProofs.map((proof) => proof.nonce)).toEqual([
      'api-nonce-1',
      'api-nonce-1',
      'api-nonce-2',
    ])
    expect(api.stats()).toMatchObject({ refreshes: 0, replays: 0 })

    const renewed = await api.refresh() // the provider's nonce is known now: no challenge
    expect(renewed.token_type).toBe('DPoP')
    expect(sent.filter((request) => request.url === server.tokenEndpoint)).toHaveLength(3)
  })

  test('an API that challenges the nonce retry again: two attempts, its 401 given back, no refresh', async () => {
    const server = await startAuthServer({ dpop: {} })
    let served = 0
    const nonces: unknown[] = []
    const restless = createServer((req, res) => {
      nonces.push(decodeJwt(String(req.headers.dpop)).nonce)
      res.writeHead(401, {
        'www-authenticate': 'DPoP error="use_dpop_nonce", algs="ES256"',
        'dpop-nonce': `nonce-${++served}`,
      })
      res.end()
    })
    await new Promise<void>((resolve) => restless.listen(0, '127.0.0.1', resolve))
    try {
      const api = createSessionFetch({
        baseURL: `http://127.0.0.1:${(restless.address() as AddressInfo).port}`,
        protocol: publicApp(server),
      })
      await api.login({ grant: 'authorization_code', ...(await authorize(server, CLIENTS.public.clientId)) })
      const response = await api.fetch('/restless')
      expect(response.status).toBe(401)
      expect(nonces).toEqual([undefined, 'nonce-1'])
      expect(api.stats()).toMatchObject({ refreshes: 0, replays: 0 })
      expect(refreshEvents(server)).toEqual([])
    } finally {
      await new Promise((resolve) => restless.close(resolve))
    }
  })

  test('a nonce challenge to a request whose body cannot be sent again: its 401 comes back, no token request; the nonce serves the next', async () => {
    const server = await startAuthServer({ dpop: {} })
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: publicApp(server),
      replayBufferBytes: 0, // a streamed body is sent once, never kept
      now: standingClock(),
    })
    await api.login({ grant: 'authorization_code', ...(await authorize(server, CLIENTS.public.clientId)) })
    const tokenRequests = server.counters.token
    server.apiNonce = 'api-nonce-for-streams'

    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('{"rows":1}'))
        controller.close()
      },
    })
    const init = { method: 'POST', body, duplex: 'half' } as RequestInit
    const refused = await api.fetch('/uploads', init)
    expect(refused.status).toBe(401)
    expect(refused.headers.get('dpop-nonce')).toBe('api-nonce-for-streams')
    expect((await api.fetch('/after-upload')).status).toBe(200)
    await api.getSession() // settles after anything the core had queued for the session

    expect(server.acceptedProofs.map((proof) => proof.nonce)).toEqual(['api-nonce-for-streams'])
    expect(server.proofRefusals).toEqual(['nonce'])
    expect(server.counters.token).toBe(tokenRequests)
    expect(refreshEvents(server)).toEqual([])
    expect(api.stats()).toMatchObject({ refreshes: 0, replays: 0 })
  })

  test('a nonce challenge to the replay after a refresh goes back to the caller; its nonce serves the next request', async () => {
    const server = await startAuthServer({ accessTokenTtl: 1, dpop: {} })
    const { api, session } = await signedIn(server)
    server.accessTokenTtl = 60
    await untilExpired(session.access_token)
    server.apiNonce = 'api-nonce-after-refresh' // the API starts asking for nonces while the token is expired

    const first = await api.fetch('/items/1') // 401 invalid_token → refresh → replay → 401 use_dpop_nonce
    expect(first.status).toBe(401)
    expect(first.headers.get('dpop-nonce')).toBe('api-nonce-after-refresh')
    expect(api.stats()).toMatchObject({ refreshes: 1, replays: 1 })
    expect((await api.fetch('/items/2')).status).toBe(200)
    expect(server.acceptedProofs.map((proof) => proof.nonce)).toEqual(['api-nonce-after-refresh'])
    expect(api.stats()).toMatchObject({ refreshes: 1 })
  })

  test('a token request retried after a 5xx signs a new proof (the provider refuses a used jti)', async () => {
    const server = await startAuthServer({ dpop: {} })
    const proofs: string[] = []
    let answered = 0
    const api = createSessionFetch({
      baseURL: server.apiURL,
      // The first token request reaches the provider, which records its proof's jti; the client sees a 503.
      fetch: async (input, init) => {
        const proof = new Headers(init?.headers).get('dpop')
        if (proof) proofs.push(proof)
        const response = await fetch(input, init)
        return String(input).endsWith('/token') && answered++ === 0
          ? new Response('busy', { status: 503 })
          : response
      },
      protocol: oauth2({
        tokenEndpoint: server.tokenEndpoint,
        ...CLIENTS.service,
        clientAuthMethod: 'client_secret_post',
        scope: 'api:read',
        resource: RESOURCE,
        dpop: true,
        retryDelayMs: 1,
      }),
    })
    const session = await api.login({ grant: 'client_credentials' })
    expect(session.token_type).toBe('DPoP')
    const [first, second] = proofs.map((proof) => decodeJwt(proof).jti)
    expect(proofs).toHaveLength(2)
    expect(first).not.toBe(second)
    expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
    expect((await api.fetch('/reports')).status).toBe(200)
  })

  test('a caller-supplied key pair is used, and its thumbprint is what the token is bound to', async () => {
    const server = await startAuthServer({ dpop: {} })
    const keyPair = (await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
    const { calculateJwkThumbprint, exportJWK } = await import('jose')
    const thumbprint = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey))
    const { api, session } = await signedIn(server, { dpop: { keyPair } })
    expect((decodeJwt(session.access_token) as { cnf?: { jkt?: string } }).cnf?.jkt).toBe(thumbprint)
    expect((await api.fetch('/me')).status).toBe(200)
  })

  test('a server that does not bind the token (Bearer) is refused, not silently downgraded', async () => {
    const server = await startAuthServer() // DPoP not enabled at the provider
    const api = createSessionFetch({ baseURL: server.apiURL, protocol: publicApp(server) })
    const error = await api
      .login({ grant: 'authorization_code', ...(await authorize(server, CLIENTS.public.clientId)) })
      .catch((e: unknown) => e)
    expect(String(error)).toContain('token_type')
    expect(await api.getSession()).toBeUndefined()
  })

  test('the axios and undici adapters refuse a DPoP session (it cannot sign each attempt); bad dpop options are named', () => {
    const server = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'app' }
    const api = createSessionFetch({
      baseURL: 'https://api.example.com',
      protocol: oauth2({ ...server, dpop: true }),
    })
    expect(() => attachSession(axios.create(), api)).toThrow(OptionError)
    expect(() => sessionInterceptor(api)).toThrow(/DPoP/)
    expect(() => oauth2({ ...server, dpop: { keyPair: {} as CryptoKeyPair } })).toThrow(/dpop/)
  })
})
