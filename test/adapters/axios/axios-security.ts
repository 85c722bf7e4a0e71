// The axios adapter's promises about the token, run against every axios the peer range admits: each
// `axios-*.security.test.ts` file swaps the `axios` module (for this suite and the adapter alike) for one version,
// and calls `axiosSecurity` with what it expects to run.
//
// The server is one node:http server on 127.0.0.1 answering two origins by their Host header: the API
// (`api.plantly.test`, an allowed origin of the session) and a subdomain of it (`evil.api.plantly.test`, not
// allowed), on the same port, so follow-redirects takes the subdomain for one it may send credentials to. The
// names are resolved to 127.0.0.1 by the agent (Node's http adapter) and the global dispatcher (the fetch
// adapter): nothing depends on the machine's DNS.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns'
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http'
import { createRequire } from 'node:module'
import { inspect } from 'node:util'
import axios, {
  type AxiosError,
  type AxiosInstance,
  type AxiosResponse,
  type CreateAxiosDefaults,
} from 'axios'
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici'
import { afterEach, describe, expect, test } from 'vitest'
import { attachSession } from '../../../src/adapters/axios/index.js'
import { createSessionFetch, type SessionFetch } from '../../../src/index.js'
import { until } from '../../helpers/adapters.js'
import { type ApiServer, apiServer } from '../../helpers/api-server.js'
import { DEMO_USER } from '../../helpers/mock-server.js'

export interface Versions {
  /** The package that stands for `axios` in this file (the real name, or an npm alias). */
  readonly package: string
  /** The axios version it must be. */
  readonly axios: string
  /** The follow-redirects version that axios must resolve. */
  readonly followRedirects: string
  /** Whether this axios has the fetch adapter (1.7 and later). */
  readonly fetchAdapter: boolean
}

const API_HOST = 'api.plantly.test'
const SUB_HOST = `evil.${API_HOST}`
const FAR_HOST = 'elsewhere.test'
const REDACTED = '[redacted]'

// Any name resolves to 127.0.0.1, with the callback shape the caller asked for (net asks for `all`).
function toLoopback(
  _hostname: string,
  options: LookupOptions,
  callback: (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
): void {
  dnsLookup('127.0.0.1', options, callback as never)
}

const agents: HttpAgent[] = []
const dispatchers: Dispatcher[] = []
const previousDispatcher = getGlobalDispatcher()
afterEach(async () => {
  setGlobalDispatcher(previousDispatcher)
  for (const agent of agents.splice(0)) agent.destroy()
  await Promise.all(dispatchers.splice(0).map((dispatcher) => dispatcher.close()))
})

interface Seen {
  host: string
  path: string
  authorization: string | undefined
  hop: string | undefined
}

interface Setup {
  server: ApiServer
  plantly: SessionFetch
  api: AxiosInstance
  /** The API's origin, as axios calls it. */
  origin: string
  /** The subdomain's origin. */
  sub: string
  /** Every request the server received, with its Host. */
  seen: Seen[]
  /** The requests that reached the subdomain. */
  atSub(): Seen[]
  token(): Promise<string>
}

// The server's quirks. At the API: redirects (/hop/<status>/...) to the subdomain, to another host (far/...) and
// home (home...), a connection reset, a request that is never answered, a 500, a 503 once then the mock. At the
// subdomain and the other host: 401 under /unauthorized, else 200.
function routes(seen: Seen[], port: () => string) {
  let flaky = 0
  return (req: IncomingMessage, res: ServerResponse): boolean => {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '')
    const path = req.url ?? '/'
    const hop = req.headers['x-hop']
    seen.push({
      host,
      path,
      authorization: req.headers.authorization,
      hop: typeof hop === 'string' ? hop : undefined,
    })
    if (host === SUB_HOST || host === FAR_HOST) {
      const refused = path.startsWith('/unauthorized')
      res.writeHead(refused ? 401 : 200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(refused ? { code: 'not_yours' } : { landed: path }))
      return true
    }
    const status = /^\/hop\/(30[1278])\//.exec(path)?.[1]
    if (status !== undefined) {
      const rest = path.slice('/hop/30x/'.length)
      const location = rest.startsWith('home')
        ? `/buyers/${rest}` // same origin, answered by the mock
        : rest.startsWith('far/')
          ? `http://${FAR_HOST}:${port()}/${rest.slice('far/'.length)}`
          : `http://${SUB_HOST}:${port()}/${rest}`
      res.writeHead(Number(status), { location })
      res.end()
      return true
    }
    if (path === '/reset') {
      req.socket.destroy()
      return true
    }
    if (path === '/hang') return true // never answered: the test aborts it or times out
    if (path === '/status/500') {
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end('{"code":"server_error"}')
      return true
    }
    if (path === '/flaky' && flaky++ === 0) {
      res.writeHead(503, { 'content-type': 'application/json' })
      res.end('{"code":"try_again"}')
      return true
    }
    return false
  }
}

async function setup(defaults: CreateAxiosDefaults = {}): Promise<Setup> {
  const seen: Seen[] = []
  let port = ''
  const server = await apiServer(routes(seen, () => port))
  port = new URL(server.url).port
  const origin = `http://${API_HOST}:${port}`
  // The session's own calls go to 127.0.0.1; axios calls the API by its name, an allowed origin.
  const plantly = createSessionFetch({ baseURL: server.url, allowedOrigins: [origin] })
  await plantly.login(DEMO_USER)
  const agent = new HttpAgent({ lookup: toLoopback })
  agents.push(agent)
  const dispatcher = new Agent({ connect: { lookup: toLoopback } })
  dispatchers.push(dispatcher)
  setGlobalDispatcher(dispatcher) // Node's fetch (the fetch adapter) resolves the names the same way
  const api = axios.create({ baseURL: origin, httpAgent: agent, ...defaults })
  attachSession(api, plantly)
  return {
    server,
    plantly,
    api,
    origin,
    sub: `http://${SUB_HOST}:${port}`,
    seen,
    atSub: () => seen.filter((entry) => entry.host === SUB_HOST),
    async token() {
      const token = (await plantly.getSession())?.access_token
      if (token === undefined) throw new Error('no session')
      return token
    },
  }
}

function caught(promise: Promise<unknown>): Promise<AxiosError> {
  return promise.then(
    (value) => {
      throw new Error(`expected a rejection, got ${inspect(value, { depth: 0 })}`)
    },
    (error: unknown) => error as AxiosError,
  )
}

type Inspectable = {
  _header?: unknown
  getHeader?: (name: string) => unknown
  headers?: { get?: (name: string) => unknown }
  _options?: { headers?: unknown }
  _currentRequest?: Inspectable
}

// Everything a caller can print or read of an answer or an error, by name: the views the token must be absent
// from.
function views(subject: AxiosError | AxiosResponse): Record<string, string> {
  const out: Record<string, string> = {}
  const error = subject instanceof Error ? (subject as AxiosError) : undefined
  if (error) {
    out['JSON.stringify(error)'] = JSON.stringify(error)
    out['error.toJSON()'] = JSON.stringify(error.toJSON())
    out['util.inspect(error)'] = inspect(error)
    out['util.inspect(error, depth 12)'] = inspect(error, { depth: 12 })
  } else {
    out['util.inspect(response)'] = inspect(subject)
    out['util.inspect(response, depth 12)'] = inspect(subject, { depth: 12 })
  }
  const configs = [['config', subject.config]] as const
  for (const [name, config] of [...configs, ['response.config', error?.response?.config]] as const) {
    if (!config) continue
    out[`${name}.headers.get('Authorization')`] = String(config.headers?.get?.('Authorization'))
    out[`JSON.stringify(${name}.headers)`] = JSON.stringify(config.headers)
  }
  const requests: [string, Inspectable | undefined][] = [
    ['request', subject.request as Inspectable | undefined],
    ['response.request', error?.response?.request as Inspectable | undefined],
  ]
  for (const [name, request] of requests) {
    if (!request) continue
    for (const [part, value] of [
      ['', request],
      ['._currentRequest', request._currentRequest],
    ] as const) {
      if (!value) continue
      out[`${name}${part}._header`] = String(value._header)
      if (typeof value.getHeader === 'function')
        out[`${name}${part}.getHeader('authorization')`] = String(value.getHeader('authorization'))
      if (typeof value.headers?.get === 'function')
        out[`${name}${part}.headers.get('authorization')`] = String(value.headers.get('authorization'))
      out[`${name}${part}._options.headers`] = JSON.stringify(value._options?.headers)
    }
  }
  return out
}

/** The names of the views that show any of `tokens`. */
function showing(subject: AxiosError | AxiosResponse, ...tokens: string[]): string[] {
  return Object.entries(views(subject))
    .filter(([, text]) => tokens.some((token) => String(text).includes(token)))
    .map(([name]) => name)
}

export function axiosSecurity(versions: Versions): void {
  const label = `axios ${versions.axios}, follow-redirects ${versions.followRedirects}`

  describe(`the axios adapter and the token (${label})`, () => {
    test('this file runs the axios and follow-redirects it names', () => {
      expect(axios.VERSION).toBe(versions.axios)
      const require = createRequire(import.meta.url)
      const at = createRequire(require.resolve(`${versions.package}/package.json`))
      expect(at(`${versions.package}/package.json`).version).toBe(versions.axios)
      expect(at('follow-redirects/package.json').version).toBe(versions.followRedirects)
    })

    describe("Node's http adapter: redirects", () => {
      test.each(['301', '302', '307', '308'])(
        'a %s to a subdomain (another origin) does not take the token there',
        async (status) => {
          const s = await setup()
          const response = await s.api.get(`/hop/${status}/landing`)
          expect(response.status).toBe(200)
          expect(response.data).toEqual({ landed: '/landing' })
          const token = await s.token()
          expect(s.seen.find((entry) => entry.path.startsWith('/hop/'))?.authorization).toBe(
            `Bearer ${token}`,
          )
          expect(s.atSub()).toEqual([
            { host: SUB_HOST, path: '/landing', authorization: undefined, hop: undefined },
          ])
        },
      )

      test('a POST answered by a 302 to a subdomain goes on as a GET without the token', async () => {
        const s = await setup()
        const response = await s.api.post('/hop/302/landing', { name: 'fern' })
        expect(response.status).toBe(200)
        expect(s.atSub().map((entry) => entry.authorization)).toEqual([undefined])
      })

      test.each([
        ['the subdomain', '/hop/307/unauthorized', SUB_HOST],
        ['another host', '/hop/307/far/unauthorized', FAR_HOST],
      ])(
        'a 401 from %s reached by a redirect is given back: no refresh, no replay, no token',
        async (_, path, host) => {
          const s = await setup()
          for (let i = 0; i < 3; i++) {
            const error = await caught(s.api.get(path))
            expect(error.response?.status).toBe(401)
          }
          expect(s.server.mock.counters.refreshes).toBe(0)
          expect(s.seen.filter((entry) => entry.path === path)).toHaveLength(3)
          const there = s.seen.filter((entry) => entry.host === host)
          expect(there.map((entry) => [entry.path, entry.authorization])).toEqual(
            Array(3).fill(['/unauthorized', undefined]),
          )
        },
      )

      test('a redirect within the origin keeps the token', async () => {
        const s = await setup()
        const response = await s.api.get('/hop/307/home')
        expect(response.status).toBe(200) // the mock answers 200 only to a valid token
        const token = await s.token()
        expect(s.seen.find((entry) => entry.path === '/buyers/home')?.authorization).toBe(`Bearer ${token}`)
        expect(showing(response, token)).toEqual([])
      })

      test("the caller's beforeRedirect still runs, after the token is off", async () => {
        const s = await setup()
        const hops: { authorization: unknown; href: unknown; made: unknown }[] = []
        const response = await s.api.get('/hop/302/landing', {
          beforeRedirect(
            options: Record<string, unknown>,
            _response: unknown,
            request?: { headers?: Record<string, unknown> },
          ) {
            const headers = options.headers as Record<string, unknown>
            const made = request?.headers // the newest axios passes the hop just made
            hops.push({
              authorization: headers.Authorization ?? headers.authorization,
              href: options.href,
              made: made && (made.Authorization ?? made.authorization ?? 'none'),
            })
            headers['x-hop'] = 'mine'
          },
        })
        expect(response.status).toBe(200)
        const made = hops[0]?.made === undefined ? undefined : REDACTED // the hop just made, as the hook sees it
        expect(hops).toEqual([{ authorization: undefined, href: `${s.sub}/landing`, made }])
        expect(s.atSub()).toEqual([
          { host: SUB_HOST, path: '/landing', authorization: undefined, hop: 'mine' },
        ])
      })

      test('a transport of your own that follows redirects does not take the token to the subdomain', async () => {
        const s = await setup()
        const require = createRequire(
          createRequire(import.meta.url).resolve(`${versions.package}/package.json`),
        )
        const followRedirects = require('follow-redirects') as { http: unknown }
        const response = await s.api.get('/hop/302/landing', { transport: followRedirects.http })
        expect(response.status).toBe(200)
        expect(s.atSub().map((entry) => entry.authorization)).toEqual([undefined])
      })
    })

    describe('errors and answers show no token', () => {
      test('a successful answer: its config, its request', async () => {
        const s = await setup()
        const response = await s.api.get('/buyers')
        const token = await s.token()
        expect(s.seen.at(-1)?.authorization).toBe(`Bearer ${token}`) // it was sent
        expect(showing(response, token)).toEqual([])
        expect(response.config.headers.get('Authorization')).toBe(REDACTED)
      })

      test('an HTTP error status (validateStatus refuses it)', async () => {
        const s = await setup()
        const error = await caught(s.api.get('/status/500'))
        expect(error.response?.status).toBe(500)
        const token = await s.token()
        expect(s.seen.at(-1)?.authorization).toBe(`Bearer ${token}`)
        expect(showing(error, token)).toEqual([])
        expect(error.config?.headers.get('Authorization')).toBe(REDACTED)
      })

      test('a 401 refused again after the refresh: neither token shows', async () => {
        const s = await setup()
        const first = await s.token()
        s.server.mock.inject({ on: 'api', status: 401, body: { code: 'unauthorized' }, times: 2 })
        const error = await caught(s.api.get('/buyers'))
        expect(error.response?.status).toBe(401)
        const second = await s.token()
        expect(second).not.toBe(first)
        expect(s.server.received.filter((r) => r.path === '/buyers').map((r) => r.authorization)).toEqual([
          `Bearer ${first}`,
          `Bearer ${second}`,
        ])
        expect(showing(error, first, second)).toEqual([])
      })

      test('a network error (the connection is reset)', async () => {
        const s = await setup()
        const error = await caught(s.api.get('/reset'))
        expect(error.response).toBeUndefined()
        expect(error.code).toBe('ECONNRESET')
        const token = await s.token()
        expect(s.seen.at(-1)?.authorization).toBe(`Bearer ${token}`)
        expect(showing(error, token)).toEqual([])
        expect(error.config?.headers.get('Authorization')).toBe(REDACTED)
      })

      test('a timeout', async () => {
        const s = await setup()
        const error = await caught(s.api.get('/hang', { timeout: 250 }))
        expect(error.code).toMatch(/^(ECONNABORTED|ETIMEDOUT)$/)
        expect(showing(error, await s.token())).toEqual([])
        expect(error.config?.headers.get('Authorization')).toBe(REDACTED)
      })

      test('an abort while the request is at the server', async () => {
        const s = await setup()
        const controller = new AbortController()
        const pending = caught(s.api.get('/hang', { signal: controller.signal }))
        await until(() => s.seen.some((entry) => entry.path === '/hang'), 'the request to reach the server')
        controller.abort()
        const error = await pending
        expect(axios.isCancel(error)).toBe(true)
        const token = await s.token()
        expect(s.seen.at(-1)?.authorization).toBe(`Bearer ${token}`)
        expect(showing(error, token)).toEqual([])
        expect(error.config?.headers.get('Authorization')).toBe(REDACTED)
      })

      test("the caller's own Authorization is theirs: not redacted, and sent again as it was", async () => {
        const s = await setup()
        const error = await caught(s.api.get('/mine', { headers: { Authorization: 'Bearer caller-token' } }))
        expect(error.response?.status).toBe(401)
        expect(error.config?.headers.get('Authorization')).toBe('Bearer caller-token')
        await caught(s.api.request(error.config ?? {}))
        expect(s.server.received.filter((r) => r.path === '/mine').map((r) => r.authorization)).toEqual([
          'Bearer caller-token',
          'Bearer caller-token',
        ])
      })
    })

    describe('a config sent again gets the current token', () => {
      test('api.request(error.config) sends the current token, never the placeholder', async () => {
        const s = await setup()
        const error = await caught(s.api.get('/reset'))
        await s.plantly.refresh() // the token the config carried is stale now
        const current = await s.token()
        const again = await caught(s.api.request({ ...error.config, url: '/status/500' }))
        expect(again.response?.status).toBe(500)
        const sent = s.seen
          .filter((entry) => entry.path === '/status/500')
          .map((entry) => entry.authorization)
        expect(sent).toEqual([`Bearer ${current}`])
        expect(showing(again, current)).toEqual([])
        const ok = await s.api.request({ ...error.config, url: '/buyers' })
        expect(ok.status).toBe(200)
      })

      test('a retry from a response interceptor (as axios-retry does) sends the current token', async () => {
        const s = await setup()
        let retries = 0
        s.api.interceptors.response.use(undefined, (error: AxiosError) => {
          if (error.response?.status !== 503 || !error.config || retries++ > 0) throw error
          return s.api(error.config)
        })
        const response = await s.api.get('/flaky')
        expect(response.status).toBe(200)
        const token = await s.token()
        expect(s.server.received.filter((r) => r.path === '/flaky').map((r) => r.authorization)).toEqual([
          `Bearer ${token}`,
          `Bearer ${token}`,
        ])
        expect(showing(response, token)).toEqual([])
      })

      test("a config whose Authorization the caller replaced keeps the caller's", async () => {
        const s = await setup()
        const error = await caught(s.api.get('/status/500'))
        const config = error.config
        if (!config) throw new Error('axios gave no config')
        config.headers.set('Authorization', 'Bearer caller-token')
        await caught(s.api.request(config))
        expect(s.server.received.filter((r) => r.path === '/status/500').map((r) => r.authorization)).toEqual(
          [`Bearer ${await s.token()}`, 'Bearer caller-token'],
        )
      })
    })

    if (!versions.fetchAdapter) {
      test('this axios has no fetch adapter', () => {
        expect(() => axios.getAdapter('fetch')).toThrow(/fetch/)
      })
    } else {
      describe("the fetch adapter (adapter: 'fetch')", () => {
        test('a redirect to a subdomain does not take the token there', async () => {
          const s = await setup({ adapter: 'fetch' })
          const response = await s.api.get('/hop/302/landing')
          expect(response.status).toBe(200)
          expect(s.seen.find((entry) => entry.path.startsWith('/hop/'))?.authorization).toBe(
            `Bearer ${await s.token()}`,
          )
          expect(s.atSub().map((entry) => entry.authorization)).toEqual([undefined])
        })

        test('a successful answer and an HTTP error show no token', async () => {
          const s = await setup({ adapter: 'fetch' })
          const response = await s.api.get('/buyers')
          const token = await s.token()
          expect(s.seen.at(-1)?.authorization).toBe(`Bearer ${token}`)
          expect(showing(response, token)).toEqual([])
          const error = await caught(s.api.get('/status/500'))
          expect(error.response?.status).toBe(500)
          expect(showing(error, token)).toEqual([])
          expect(error.config?.headers.get('Authorization')).toBe(REDACTED)
        })
      })
    }
  })
}

/** The follow-redirects version `pkg` resolves (for the files that name it). */
export function followRedirectsOf(pkg: string): string {
  const require = createRequire(import.meta.url)
  return createRequire(require.resolve(`${pkg}/package.json`))('follow-redirects/package.json').version
}
