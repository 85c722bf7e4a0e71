// DPoP-bound requests that meet a redirect, over real HTTP: tokens from oidc-provider (client credentials,
// DPoP-bound), an API on one origin that redirects, and another origin (another port) that records what reaches
// it. fetch drops Authorization on a hop to another origin but not the DPoP proof: the session follows these
// redirects itself, so neither reaches an origin it does not cover, and a hop on its own origin carries a
// proof made for that hop.
import { createHash } from 'node:crypto'
import { base64url, EmbeddedJWK, jwtVerify } from 'jose'
import { describe, expect, test } from 'vitest'
import { createSessionFetch } from '../../../src/index.js'
import { oauth2 } from '../../../src/protocols/oauth2/index.js'
import { listen } from '../../helpers/http-server.js'
import { CLIENTS, RESOURCE, startAuthServer } from '../../helpers/oidc-provider.js'

interface Landed {
  method: string
  path: string
  authorization: string | undefined
  dpop: string | undefined
  body: string
}

/** A server whose `/hop/<status>?to=<url>` redirects there and whose other paths record what reached them. */
async function origin() {
  const landed: Landed[] = []
  const url = await listen(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const target = new URL(req.url ?? '/', 'http://x')
    const hop = /^\/hop\/(\d+)$/.exec(target.pathname)
    if (hop)
      return void res.writeHead(Number(hop[1]), { location: target.searchParams.get('to') ?? '' }).end()
    const { authorization, dpop } = req.headers as Record<string, string | undefined>
    landed.push({
      method: req.method ?? '',
      path: req.url ?? '',
      authorization,
      dpop,
      body: Buffer.concat(chunks).toString(),
    })
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  })
  return { url, landed }
}

async function dpopSession(baseURL: string) {
  const server = await startAuthServer({ dpop: {} })
  const api = createSessionFetch({
    baseURL,
    protocol: oauth2({
      tokenEndpoint: server.tokenEndpoint,
      ...CLIENTS.service,
      clientAuthMethod: 'client_secret_post',
      scope: 'api:read',
      resource: RESOURCE,
      dpop: true,
    }),
  })
  const session = await api.login({ grant: 'client_credentials' })
  expect(session.token_type).toBe('DPoP')
  return { api, token: session.access_token }
}

const STATUSES = [301, 302, 303, 307, 308] as const

describe.each(STATUSES)('a DPoP-bound request redirected with %s', (status) => {
  test.each(['GET', 'POST'])(
    '%s to another origin: neither the proof nor the token goes there',
    async (method) => {
      const api = await origin()
      const elsewhere = await origin()
      const { api: client } = await dpopSession(api.url)
      const to = encodeURIComponent(`${elsewhere.url}/landing`)
      const response = await client.fetch(`/hop/${status}?to=${to}`, {
        method,
        ...(method === 'POST' ? { body: 'plant=fern' } : {}),
      })
      expect([response.status, response.redirected, response.url]).toEqual([
        200,
        true,
        `${elsewhere.url}/landing`,
      ])
      expect(elsewhere.landed).toHaveLength(1)
      expect(elsewhere.landed[0]).toMatchObject({ authorization: undefined, dpop: undefined })
    },
  )

  test.each(['GET', 'POST'])(
    '%s on its own origin: the hop carries the token and a proof made for it',
    async (method) => {
      const api = await origin()
      const { api: client, token } = await dpopSession(api.url)
      const response = await client.fetch(`/hop/${status}?to=/landing?q=1`, {
        method,
        ...(method === 'POST' ? { body: 'plant=fern' } : {}),
      })
      expect([response.status, response.redirected, response.url]).toEqual([
        200,
        true,
        `${api.url}/landing?q=1`,
      ])
      const [landed] = api.landed
      expect(landed?.authorization).toBe(`DPoP ${token}`)
      // The method fetch uses for this hop (a 303, or a 301/302 after a POST, makes it a GET), this hop's URL
      // without its query, the token's hash, signed by the key the token is bound to.
      const hopMethod = status === 303 || (status < 303 && method === 'POST') ? 'GET' : method
      expect(landed?.method).toBe(hopMethod)
      expect(landed?.body).toBe(hopMethod === 'POST' ? 'plant=fern' : '')
      const { payload } = await jwtVerify(landed?.dpop as string, EmbeddedJWK, { typ: 'dpop+jwt' })
      expect(payload).toMatchObject({
        htm: hopMethod,
        htu: `${api.url}/landing`,
        ath: base64url.encode(createHash('sha256').update(token).digest()),
      })
    },
  )
})
