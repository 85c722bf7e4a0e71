// A client whose clock is 120 s slow, against oidc-provider (clock tolerance 15 s) and its DPoP resource server
// (proofs at most 60 s old): the client runs in a child process whose Date is off (test/helpers/skewed-client.ts),
// the servers keep the machine's time. Its assertions and proofs must carry the server's time, not its own.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { exportJWK, generateKeyPair } from 'jose'
import type { ClientMetadata } from 'oidc-provider'
import { describe, expect, test } from 'vitest'
import type { OAuth2Options } from '../../../src/protocols/oauth2/index.js'
import {
  type AuthServer,
  authorize,
  REDIRECT_URI,
  RESOURCE,
  startAuthServer,
} from '../../helpers/oidc-provider.js'

const CLIENT = fileURLToPath(new URL('../../helpers/skewed-client.ts', import.meta.url))
const SLOW = -120_000
// A hang detector for a child that compiles with tsx on a loaded machine, not a timing assertion.
const CHILD_MS = 60_000

/** A private_key_jwt client that may use every grant, registered with its public key. */
async function keyedApp(clientId: string) {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true })
  const metadata: ClientMetadata = {
    client_id: clientId,
    grant_types: ['client_credentials', 'authorization_code', 'refresh_token'],
    response_types: ['code'],
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    jwks: { keys: [{ ...(await exportJWK(publicKey)), alg: 'ES256', use: 'sig' }] },
  }
  return { clientId, privateJwk: await exportJWK(privateKey), metadata }
}

type Step = { login: unknown } | { refresh: true } | { fetch: string }
type Outcome = { ok: boolean; status?: number; name?: string; serverCode?: string }

/** Run the steps in a client process whose clock is `skewMs` off; one outcome per step. */
async function runSkewed(
  server: AuthServer,
  skewMs: number,
  options: Partial<OAuth2Options> & { clientId: string; clientAssertionKey: JsonWebKey },
  steps: Step[],
): Promise<Outcome[]> {
  const plan = { skewMs, baseURL: server.apiURL, options: { resource: RESOURCE, ...options }, steps }
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', CLIENT], {
    env: { ...process.env, SF_PLAN: JSON.stringify(plan) },
    timeout: CHILD_MS,
  })
  return stdout
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Outcome)
}

function outcomes(server: AuthServer) {
  return server.tokenEvents.map((event) => `${event.grantType}:${event.outcome}`)
}

describe('a client clock 120 s slow', () => {
  test(
    'the first assertion is refused; sent again at once with the time its answer gave, the session lives on (DPoP proofs too)',
    async () => {
      const app = await keyedApp('slow-app')
      const server = await startAuthServer({ clients: [app.metadata], dpop: {} })
      const code = await authorize(server, app.clientId)
      const steps: Step[] = [
        { login: { grant: 'authorization_code', ...code } },
        { fetch: '/me' },
        { refresh: true },
        { fetch: '/me/again' },
      ]
      const results = await runSkewed(
        server,
        SLOW,
        {
          tokenEndpoint: server.tokenEndpoint,
          clientId: app.clientId,
          clientAssertionKey: app.privateJwk,
          dpop: true,
        },
        steps,
      )

      expect(results).toEqual([
        { ok: true },
        { ok: true, status: 200 },
        { ok: true },
        { ok: true, status: 200 },
      ])
      // One refusal (nothing had told the client the time yet), then every request carries the server's.
      expect(outcomes(server)).toEqual([
        'authorization_code:invalid_client',
        'authorization_code:ok',
        'refresh_token:ok',
      ])
      expect(server.proofRefusals).toEqual([])
      expect(server.acceptedProofs).toHaveLength(2)
    },
    CHILD_MS * 2,
  )

  test(
    'clockSkewMs: the first assertion already carries the server time',
    async () => {
      const app = await keyedApp('slow-service')
      const server = await startAuthServer({ clients: [app.metadata] })
      const results = await runSkewed(
        server,
        SLOW,
        {
          tokenEndpoint: server.tokenEndpoint,
          clientId: app.clientId,
          clientAssertionKey: app.privateJwk,
          scope: 'api:read',
          clockSkewMs: 120_000,
        },
        [{ login: { grant: 'client_credentials' } }, { fetch: '/reports' }],
      )
      expect(results).toEqual([{ ok: true }, { ok: true, status: 200 }])
      expect(outcomes(server)).toEqual(['client_credentials:ok'])
    },
    CHILD_MS * 2,
  )

  test(
    'discovery: the metadata answer tells the time before the first token request',
    async () => {
      const app = await keyedApp('slow-discovering-service')
      const server = await startAuthServer({ clients: [app.metadata] })
      const results = await runSkewed(
        server,
        SLOW,
        {
          issuer: server.issuer,
          clientId: app.clientId,
          clientAssertionKey: app.privateJwk,
          scope: 'api:read',
        },
        [{ login: { grant: 'client_credentials' } }, { fetch: '/reports' }],
      )
      expect(results).toEqual([{ ok: true }, { ok: true, status: 200 }])
      expect(outcomes(server)).toEqual(['client_credentials:ok'])
      expect(server.counters.discovery).toBe(1)
    },
    CHILD_MS * 2,
  )

  test('clockSkewMs must be a finite number of ms: an OptionError naming it', async () => {
    const { oauth2 } = await import('../../../src/protocols/oauth2/index.js')
    const base = { tokenEndpoint: 'https://auth.example.com/token', clientId: 'svc' }
    for (const clockSkewMs of [Number.NaN, Number.POSITIVE_INFINITY, '120000', null]) {
      expect(() => oauth2({ ...base, clockSkewMs: clockSkewMs as number })).toThrow(/`clockSkewMs`/)
    }
    expect(() => oauth2({ ...base, clockSkewMs: -5_000 })).not.toThrow()
  })
})
