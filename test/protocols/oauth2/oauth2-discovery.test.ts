// Discovery: oauth2({ issuer, clientId }) reads the authorization server's metadata from oidc-provider once,
// on the first token request, and again only after a failed read.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, InvalidResponseError, LoginError } from '../../../src/index.js'
import { type OAuth2Credentials, oauth2 } from '../../../src/protocols/oauth2/index.js'
import {
  type AuthServer,
  authorize,
  CLIENTS,
  RESOURCE,
  startAuthServer,
} from '../../helpers/oidc-provider.js'

function discoveringService(server: AuthServer, issuer = server.issuer) {
  return createSessionFetch<OAuth2Credentials>({
    baseURL: server.apiURL,
    protocol: oauth2({
      issuer,
      ...CLIENTS.service,
      clientAuthMethod: 'client_secret_post',
      scope: 'api:read',
      resource: RESOURCE,
      retryDelayMs: 1,
    }),
    credentials: () => ({ grant: 'client_credentials' }),
  })
}

describe('discovery against oidc-provider', () => {
  test('the token endpoint comes from /.well-known/openid-configuration, read once', async () => {
    const server = await startAuthServer()
    const api = discoveringService(server)
    expect(server.counters.discovery).toBe(0) // lazily: nothing is read before it is needed
    const responses = await Promise.all(Array.from({ length: 5 }, (_, i) => api.fetch(`/reports/${i}`)))
    expect(responses.map((r) => r.status)).toEqual(Array(5).fill(200))
    await api.login({ grant: 'client_credentials' })
    expect(server.counters.discovery).toBe(1)
    expect(server.tokenEvents.map((event) => event.outcome)).toEqual(['ok', 'ok'])
  })

  test('RFC 8414: without an OpenID configuration, /.well-known/oauth-authorization-server is read', async () => {
    const server = await startAuthServer()
    server.metadataAt = 'oauth-authorization-server'
    const api = discoveringService(server)
    expect((await api.fetch('/reports')).status).toBe(200)
    expect(server.counters.discovery).toBe(2) // the 404, then the RFC 8414 path
  })

  test('a failed read is not kept: the next call reads again', async () => {
    const server = await startAuthServer()
    server.failDiscovery = 2 // the read and its one retry
    const api = discoveringService(server)
    await expect(api.login({ grant: 'client_credentials' })).rejects.toThrow(/503/)
    expect(server.counters.token).toBe(0)
    await api.login({ grant: 'client_credentials' })
    expect(server.counters.discovery).toBe(3)
    expect((await api.fetch('/reports')).status).toBe(200)
  })

  test('neither tokenEndpoint nor issuer: an OptionError naming tokenEndpoint; a bad issuer is named', () => {
    expect(() => oauth2({ clientId: 'app' })).toThrow(/`tokenEndpoint`/)
    expect(() => oauth2({ clientId: 'app', issuer: 'https://auth.example.com/?tenant=1' })).toThrow(
      /`issuer`/,
    )
  })

  test('metadata for another issuer is refused, worded as a failed discovery', async () => {
    const server = await startAuthServer()
    const issuer = `${server.issuer}/` // the provider's issuer has no trailing slash
    const api = discoveringService(server, issuer)
    const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).cause).toBeInstanceOf(InvalidResponseError)
    expect((error as LoginError).cause).toMatchObject({ field: 'issuer' })
    expect(String((error as LoginError).cause)).toBe(
      `InvalidResponseError: The authorization server's metadata (discovered at ${issuer}.well-known/openid-configuration) is not usable: \`issuer\` is not "${issuer}", the issuer asked for`,
    )
    expect((error as Error).message).not.toMatch(/session/)
    expect(server.counters.token).toBe(0)
  })

  test.each([
    ['not JSON', 'text/html', '<html>sign in</html>', 'body'],
    ['a JSON array', 'application/json', '[]', 'body'],
    [
      'a token endpoint that is no URL',
      'application/json',
      '{"issuer":"ISSUER","token_endpoint":"/token"}',
      'token_endpoint',
    ],
  ])(
    'metadata that is %s: an InvalidResponseError naming %s, worded as a failed discovery',
    async (_name, type, body, field) => {
      let reads = 0
      const metadata = createServer((_req, res) => {
        reads++
        res.writeHead(200, { 'content-type': type }).end(body.replace('ISSUER', issuer))
      })
      await new Promise<void>((resolve) => metadata.listen(0, '127.0.0.1', resolve))
      const issuer = `http://127.0.0.1:${(metadata.address() as AddressInfo).port}`
      try {
        const protocol = oauth2({ issuer, clientId: 'svc', clientSecret: 'svc-secret', retry: 0 })
        const api = createSessionFetch({ baseURL: 'https://api.example.com', protocol })
        const error = await api.login({ grant: 'client_credentials' }).catch((e: unknown) => e)
        const cause = (error as LoginError).cause
        expect(cause).toMatchObject({ name: 'InvalidResponseError', field })
        expect(String(cause)).toContain(
          `The authorization server's metadata (discovered at ${issuer}/.well-known/openid-configuration) is not usable: \`${field}\``,
        )
        expect(String(error)).not.toContain('sign in')
        expect(reads).toBe(1)
      } finally {
        await new Promise((resolve) => metadata.close(resolve))
      }
    },
  )

  test('the revocation endpoint and DPoP come from the metadata too: logout revokes, tokens are bound', async () => {
    const server = await startAuthServer({ dpop: {} })
    const api = createSessionFetch({
      baseURL: server.apiURL,
      protocol: oauth2({
        issuer: server.issuer,
        clientId: CLIENTS.public.clientId,
        resource: RESOURCE,
        dpop: true,
      }),
    })
    const session = await api.login({
      grant: 'authorization_code',
      ...(await authorize(server, CLIENTS.public.clientId)),
    })
    expect(session.token_type).toBe('DPoP')
    expect((await api.fetch('/me')).status).toBe(200)
    expect(await server.provider.RefreshToken.find(session.refresh_token as string)).toBeDefined()
    await api.logout()
    expect(server.counters.discovery).toBe(1)
    // The refresh token was revoked: the provider no longer knows it.
    const token = await server.provider.RefreshToken.find(session.refresh_token as string)
    expect(token).toBeUndefined()
  })
})
