// Token responses read as RFC 6749 §5.1 says, from a token endpoint (a node:http server on 127.0.0.1) that answers
// with the quirk under test: `token_type` is required, `expires_in` is a number of seconds >= 0 (or a string of one).
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, test } from 'vitest'
import { createSessionFetch, InvalidResponseError, LoginError } from '../../../src/index.js'
import { type OAuth2Credentials, oauth2 } from '../../../src/protocols/oauth2/index.js'

const servers = new Set<ReturnType<typeof createServer>>()
afterEach(async () => {
  await Promise.all([...servers].map((server) => new Promise((resolve) => server.close(resolve))))
  servers.clear()
})

/** A token endpoint that answers every request with this JSON text, and an API behind it. */
async function endpoint(answer: string) {
  const seen = { token: 0, api: [] as (string | undefined)[] }
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume()
    if (req.url === '/token') {
      seen.token++
      res.writeHead(200, { 'content-type': 'application/json' }).end(answer)
    } else {
      seen.api.push(req.headers.authorization)
      res.writeHead(200).end('{}')
    }
  })
  servers.add(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const api = createSessionFetch<OAuth2Credentials>({
    baseURL: `${url}/api`,
    protocol: oauth2({
      tokenEndpoint: `${url}/token`,
      clientId: 'svc',
      clientSecret: 'svc-secret',
      retry: 0,
    }),
  })
  return { api, seen }
}

async function refusal(answer: string) {
  const { api, seen } = await endpoint(answer)
  const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(LoginError)
  expect(await api.getSession()).toBeUndefined()
  expect(seen.token).toBe(1) // an answer that is not a token response is not asked for again
  return (error as LoginError).cause
}

describe('token_type (RFC 6749 §5.1: required)', () => {
  test.each([
    ['missing', '{"access_token":"at-1","expires_in":60}'],
    ['null', '{"access_token":"at-1","token_type":null}'],
  ])('%s: an InvalidResponseError naming token_type, not a Bearer token', async (_name, answer) => {
    const cause = await refusal(answer)
    expect(cause).toBeInstanceOf(InvalidResponseError)
    expect(cause).toMatchObject({ field: 'token_type' })
    expect(String(cause)).toContain('is missing')
    expect(String(cause)).not.toContain('at-1')
  })

  test('"bearer" in any case is a Bearer token', async () => {
    const { api, seen } = await endpoint('{"access_token":"at-1","token_type":"bEaReR"}')
    await api.login({ grant: 'client_credentials' })
    expect((await api.fetch('/reports')).status).toBe(200)
    expect(seen.api).toEqual(['Bearer at-1'])
  })
})

describe('expires_in (RFC 6749 §5.1: seconds)', () => {
  test.each([
    ['2', 2],
    ['"2"', 2],
    ['2.5', 2.5],
    ['"2.5"', 2.5],
    ['"3599"', 3599],
    ['"1e3"', 1000],
  ])('%s is read as %d s', async (value, seconds) => {
    const { api } = await endpoint(`{"access_token":"at-1","token_type":"Bearer","expires_in":${value}}`)
    const session = await api.login({ grant: 'client_credentials' })
    expect(session.expires_in).toBe(seconds)
  })

  test('0 is accepted and gives no lifetime (the token is used until it is refused)', async () => {
    const { api } = await endpoint('{"access_token":"at-1","token_type":"Bearer","expires_in":0}')
    const session = await api.login({ grant: 'client_credentials' })
    expect(session.expires_in).toBeUndefined()
  })

  test.each(['-1', '"-1"', '"abc"', '"2s"', '" 2"', '""', 'null', 'true', '[60]', '{"s":60}', '"1e999"'])(
    '%s is an InvalidResponseError naming expires_in',
    async (value) => {
      const cause = await refusal(`{"access_token":"at-1","token_type":"Bearer","expires_in":${value}}`)
      expect(cause).toBeInstanceOf(InvalidResponseError)
      expect(cause).toMatchObject({ field: 'expires_in' })
    },
  )
})
