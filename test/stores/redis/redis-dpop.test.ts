// DPoP with a session shared in Redis: the key pair cannot leave a process, so each process imports the same
// private key (here: two instances, each with its own store object, protocol and imported key, as two processes
// would have). Then a storm across an expiry in both makes one token request, with the key-bound refresh token.
import { exportJWK, generateKeyPair, importJWK } from 'jose'
import { describe, expect, test } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { oauth2 } from '../../../src/protocols/oauth2/index.js'
import { authorize, CLIENTS, RESOURCE, startAuthServer, untilExpired } from '../../helpers/oidc-provider.js'
import { testStore, uniqueKey } from '../../helpers/redis.js'

describe('DPoP with redisStore()', () => {
  test('processes that import the same key pair share a DPoP session: one refresh for a storm in both', async () => {
    // Lifetimes are whole seconds from a whole-second iat: 3 s leaves b's first request at least 2 s.
    const server = await startAuthServer({ accessTokenTtl: 3, dpop: {} })
    // The key pair every process is given (from a secret store, say), imported non-extractable in each.
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
    const [privateJwk, publicJwk] = await Promise.all([exportJWK(privateKey), exportJWK(publicKey)])
    const key = uniqueKey('dpop')
    const processes = await Promise.all(
      ['a', 'b'].map(async () => {
        const keyPair = {
          privateKey: (await importJWK(privateJwk, 'ES256', { extractable: false })) as CryptoKey,
          publicKey: (await importJWK(publicJwk, 'ES256')) as CryptoKey,
        }
        const now = Date.now()
        return createSessionFetch({
          baseURL: server.apiURL,
          store: testStore({ key }),
          protocol: oauth2({
            tokenEndpoint: server.tokenEndpoint,
            clientId: CLIENTS.public.clientId,
            resource: RESOURCE,
            dpop: { keyPair },
          }),
          now: () => now, // the clocks stand still: the expiry is only seen as 401s
        })
      }),
    )
    const [a, b] = processes as [(typeof processes)[0], (typeof processes)[0]]
    const session = await a.login({
      grant: 'authorization_code',
      ...(await authorize(server, CLIENTS.public.clientId)),
    })
    expect((await b.fetch('/me')).status).toBe(200) // b signs for a's token with the same key
    server.accessTokenTtl = 60
    // The session in Redis now: a's, or (on a machine slow enough that b met the expiry) the one b renewed.
    const current = (await testStore({ key }).read()).record?.session ?? session
    await untilExpired(current.access_token)
    const tokenCallsBefore = server.counters.token

    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).fetch(`/items/${i}`)),
    )

    expect(responses.map((r) => r.status)).toEqual(Array(40).fill(200))
    expect(server.counters.token - tokenCallsBefore).toBe(1)
    expect(server.tokenEvents.filter((event) => event.grantType === 'refresh_token')).toEqual([
      ...(current.refresh_token === session.refresh_token
        ? []
        : [{ grantType: 'refresh_token', refreshToken: session.refresh_token, outcome: 'ok' }]),
      { grantType: 'refresh_token', refreshToken: current.refresh_token, outcome: 'ok' },
    ])
    expect(server.proofRefusals).toEqual([])
  })
})
