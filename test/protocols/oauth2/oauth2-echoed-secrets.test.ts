// Every secret an OAuth2 session call sends, echoed back by a token endpoint (a node:http server on 127.0.0.1) in
// its reason phrase and error body, as sent and in the encodings servers use: none of it appears in the error, its
// JSON, stack, `util.inspect` or cause chain. Opaque tokens, so that no token is caught by its shape alone.
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { generateKeyPair } from 'jose'
import { afterEach, describe, expect, test } from 'vitest'
import { createSessionFetch, type SessionFetch } from '../../../src/index.js'
import { type OAuth2Credentials, type OAuth2Options, oauth2 } from '../../../src/protocols/oauth2/index.js'
import { everythingSaidAbout } from '../../helpers/adversarial.js'

const CLIENT_ID = 'echo client'
const CLIENT_SECRET = 'echo-secret: +/%"!'

interface Request {
  path: string
  headers: IncomingMessage['headers']
  form: URLSearchParams
}

/** What the endpoint answers: a session (opaque tokens), or the error that echoes what `echo` picks. */
type Reply = { issue: true } | { status: number; echo: (request: Request) => string[] }

const servers = new Set<ReturnType<typeof createServer>>()
afterEach(async () => {
  await Promise.all([...servers].map((server) => new Promise((resolve) => server.close(resolve))))
  servers.clear()
})

/** A token and revocation endpoint answering `replies` in turn (the last one repeats). */
async function endpoint(replies: Reply[], tokenType = 'Bearer') {
  const issued: string[] = []
  let calls = 0
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = ''
    req.on('data', (chunk: Buffer) => (body += chunk))
    req.on('end', () => {
      const reply = replies[Math.min(calls++, replies.length - 1)] as Reply
      if ('issue' in reply) {
        const tokens = { access_token: `at-${hex()}`, refresh_token: `rt-${hex()}` }
        issued.push(tokens.access_token, tokens.refresh_token)
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ...tokens, token_type: tokenType, expires_in: 300 }))
        return
      }
      const echoed = reply.echo({
        path: req.url ?? '/',
        headers: req.headers,
        form: new URLSearchParams(body),
      })
      const forms = echoed.flatMap(encodings)
      // The reason phrase shows the first few; the body all of them, in every encoding.
      res.writeHead(reply.status, `Refused ${echoed.join(' ')}`, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: `bad_${echoed[0]}`, error_description: `got ${forms.join(' | ')}` }))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  servers.add(server)
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return { tokenEndpoint: `${url}/token`, revocationEndpoint: `${url}/revoke`, issued }
}

function hex(): string {
  return randomBytes(16).toString('hex')
}

/** A secret as sent, and as servers echo it: percent-encoded, form-encoded, JSON-escaped (with `\/` too). */
function encodings(secret: string): string[] {
  const json = JSON.stringify(secret).slice(1, -1)
  return [
    secret,
    encodeURIComponent(secret),
    new URLSearchParams({ v: secret }).toString().slice(2),
    json,
    json.replaceAll('/', '\\/'),
  ]
}

function client(server: Awaited<ReturnType<typeof endpoint>>, options: Partial<OAuth2Options>) {
  return createSessionFetch<OAuth2Credentials>({
    baseURL: 'http://127.0.0.1:9',
    protocol: oauth2({
      tokenEndpoint: server.tokenEndpoint,
      revocationEndpoint: server.revocationEndpoint,
      clientId: CLIENT_ID,
      retry: 0,
      ...options,
    }),
  })
}

async function failure(call: Promise<unknown>): Promise<Error> {
  const outcome = await call.then(
    () => new Error('the call did not fail'),
    (error: unknown) => error,
  )
  if (!(outcome instanceof Error) || outcome.message === 'the call did not fail') throw outcome
  return outcome
}

/**
 * The error shows the server's words and none of `secrets`, in any encoding: each is redacted, or left out where
 * the excerpt ends before it (a JWT longer than what a message shows).
 */
function expectRedacted(error: Error, status: number, secrets: string[]): void {
  const said = everythingSaidAbout(error)
  expect(said).toMatch(new RegExp(`status code ${status} Refused (\\[redacted\\]|…)`))
  expect(said).toMatch(/got (\[redacted\] \| \[redacted\]|…)/)
  for (const secret of secrets) {
    for (const form of encodings(secret)) expect(said).not.toContain(form)
  }
}

function basicOf(id: string, secret: string): string {
  return Buffer.from(`${id}:${secret}`).toString('base64')
}

describe('a token endpoint echoing what it was sent', () => {
  test('the client secret, form-posted (client_secret_post)', async () => {
    const server = await endpoint([{ status: 401, echo: ({ form }) => [form.get('client_secret') ?? ''] }])
    const api = client(server, { clientSecret: CLIENT_SECRET, clientAuthMethod: 'client_secret_post' })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    expectRedacted(error, 401, [CLIENT_SECRET])
  })

  test('the Basic credentials as sent (client_secret_basic: id and secret form-encoded, then base64)', async () => {
    const server = await endpoint([{ status: 401, echo: ({ headers }) => [headers.authorization ?? ''] }])
    const api = client(server, { clientSecret: CLIENT_SECRET })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    const sent = basicOf(encodeForm(CLIENT_ID), encodeForm(CLIENT_SECRET))
    expectRedacted(error, 401, [sent, CLIENT_SECRET])
  })

  test('the Basic credentials as a server that skips the form encoding writes them', async () => {
    const raw = basicOf(CLIENT_ID, CLIENT_SECRET)
    const server = await endpoint([{ status: 401, echo: () => [raw] }])
    const api = client(server, { clientSecret: CLIENT_SECRET })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expectRedacted(error, 401, [raw])
  })

  test('a client assertion (private_key_jwt)', async () => {
    const assertions: string[] = []
    const server = await endpoint([
      {
        status: 401,
        echo: ({ form }) => {
          assertions.push(form.get('client_assertion') ?? '')
          return [form.get('client_assertion') ?? '']
        },
      },
    ])
    const { privateKey } = await generateKeyPair('ES256')
    const api = client(server, { clientAssertionKey: privateKey })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    expect(assertions).toHaveLength(1)
    expectRedacted(error, 401, assertions)
  })

  test('a client_secret_jwt assertion, and the secret it was signed with (which the client never sent)', async () => {
    const seen: { assertion: string; wire: string }[] = []
    const server = await endpoint([
      {
        status: 401,
        echo: ({ form, headers }) => {
          seen.push({
            assertion: form.get('client_assertion') ?? '',
            wire: form.toString() + JSON.stringify(headers),
          })
          // The server knows the secret: it echoes it too, beside the assertion.
          return [CLIENT_SECRET, form.get('client_assertion') ?? '']
        },
      },
    ])
    const api = client(server, { clientSecret: CLIENT_SECRET, clientAuthMethod: 'client_secret_jwt' })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    expect(seen).toHaveLength(1)
    for (const form of encodings(CLIENT_SECRET)) expect(seen[0]?.wire).not.toContain(form)
    expectRedacted(error, 401, [seen[0]?.assertion ?? '', CLIENT_SECRET])
  })

  test('a DPoP proof', async () => {
    const proofs: string[] = []
    const server = await endpoint(
      [
        {
          status: 401,
          echo: ({ headers }) => {
            proofs.push(String(headers.dpop))
            return [String(headers.dpop)]
          },
        },
      ],
      'DPoP',
    )
    const api = client(server, { dpop: true })
    const error = await failure(api.login({ grant: 'client_credentials' }))
    expect(error).toMatchObject({ name: 'LoginError', status: 401 })
    expect(proofs).toHaveLength(1)
    expectRedacted(error, 401, proofs)
  })

  test('the refresh token, and the access token of the session being refreshed', async () => {
    const server = await endpoint([
      { issue: true },
      { status: 503, echo: ({ form }) => [form.get('refresh_token') ?? '', server.issued[0] ?? ''] },
    ])
    const api: SessionFetch<OAuth2Credentials> = client(server, { clientSecret: CLIENT_SECRET })
    await api.login({ grant: 'client_credentials' })
    const error = await failure(api.refresh())
    expect(error).toMatchObject({ name: 'RefreshError', status: 503 })
    expect(server.issued).toHaveLength(2)
    expectRedacted(error, 503, [...server.issued, CLIENT_SECRET])
  })

  test('an authorization code and its PKCE verifier', async () => {
    const code = `code-${hex()}`
    const codeVerifier = `verifier-${hex()}`
    const server = await endpoint([
      { status: 400, echo: ({ form }) => [form.get('code') ?? '', form.get('code_verifier') ?? ''] },
    ])
    const api = client(server, { clientSecret: CLIENT_SECRET })
    const error = await failure(
      api.login({ grant: 'authorization_code', code, codeVerifier, redirectUri: 'http://127.0.0.1/cb' }),
    )
    expect(error).toMatchObject({ name: 'LoginError', status: 400 })
    expectRedacted(error, 400, [code, codeVerifier])
  })

  test('the tokens of the session a logout revokes', async () => {
    const server = await endpoint([
      { issue: true },
      { status: 503, echo: ({ form }) => [form.get('token') ?? '', server.issued[0] ?? ''] },
    ])
    const api = client(server, { clientSecret: CLIENT_SECRET })
    await api.login({ grant: 'client_credentials' })
    const error = await failure(api.logout())
    expect(error).toMatchObject({ name: 'LogoutError' })
    expectRedacted(error, 503, server.issued)
  })
})

function encodeForm(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
