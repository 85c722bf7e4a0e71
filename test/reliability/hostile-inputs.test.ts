import { inspect } from 'node:util'
import { IDBFactory } from 'fake-indexeddb'
import fc from 'fast-check'
import { generateKeyPair } from 'jose'
import { describe, expect, test, vi } from 'vitest'
import { pipelineOf } from '../../src/adapters/shared/pipeline-registry.js'
import {
  createSessionFetch,
  LoginError,
  OptionError,
  plantlySessions,
  RefreshError,
  type SessionFetchOptions,
} from '../../src/index.js'
import { oauth2 } from '../../src/protocols/oauth2/index.js'
import { browserStore } from '../../src/stores/browser/index.js'
import { fileStore } from '../../src/stores/file/index.js'
import { redisStore } from '../../src/stores/redis/index.js'
import { craftJwt } from '../helpers/jwt.js'

// Hostile inputs to the public API, fuzzed with fast-check: every option either works or is
// refused up front with an OptionError naming it (never a TypeError from deep inside, never later); tokens
// from a malicious server that could split a header are refused and never echoed; fetch() keeps fetch's
// contract (a rejected promise, never a synchronous throw) whatever it is handed; and no generated URL gets
// the token unless its origin is allowed.

const RUNS = Number(process.env.FC_HOSTILE_RUNS ?? 300)
const baseURL = 'https://api.test'
const MAX_TIMEOUT = 2_147_483_647

/** createSessionFetch(options): undefined when accepted, the OptionError when refused (anything else fails). */
function verdict(options: unknown): OptionError | undefined {
  try {
    createSessionFetch(options as SessionFetchOptions)
    return undefined
  } catch (error) {
    if (!(error instanceof OptionError)) throw new Error(`not an OptionError: ${String(error)}`)
    expect(error.code).toBe('invalid_option')
    expect(error.message.length).toBeLessThan(400) // names the problem, never dumps the value
    return error
  }
}

function expectRefused(error: OptionError | undefined, option: string): void {
  expect(error?.option).toBe(option)
  expect(error?.message).toContain(`\`${option}\``)
}

const anyValue = fc.anything({
  withBigInt: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withTypedArray: true,
})

describe('options: accepted, or refused up front naming the option', () => {
  test('baseURL: only an absolute http(s) URL without credentials, query or fragment', () => {
    const candidates = fc.oneof(
      fc.webUrl({
        validSchemes: ['http', 'https', 'ftp', 'file', 'ws'],
        withQueryParameters: true,
        withFragments: true,
        authoritySettings: { withUserInfo: true, withPort: true, withIPv4: true, withIPv6: true },
      }),
      fc.constantFrom(
        '/api',
        'api.test',
        '//api.test',
        'https://',
        'https:api.test',
        'javascript:alert(1)',
        '',
      ),
      fc.string(),
      anyValue,
    )
    fc.assert(
      fc.property(candidates, (value) => {
        const error = verdict({ baseURL: value })
        let url: URL | undefined
        try {
          url = typeof value === 'string' || value instanceof URL ? new URL(String(value)) : undefined
        } catch {
          url = undefined
        }
        const good =
          url !== undefined &&
          (url.protocol === 'http:' || url.protocol === 'https:') &&
          !url.username &&
          !url.password &&
          !url.search &&
          !url.hash
        if (good) expect(error).toBeUndefined()
        else expectRefused(error, 'baseURL')
      }),
      { numRuns: RUNS },
    )
  })

  test.each([
    ['refreshWindowMs', false],
    ['refreshTimeoutMs', true],
  ] as const)(
    '%s: a finite number of ms in range, nothing else (negative, NaN, Infinity, strings)',
    (name, positive) => {
      const candidates = fc.oneof(
        fc.double(),
        fc.integer({ min: -10, max: MAX_TIMEOUT + 10 }),
        fc.constantFrom(
          -0,
          Number.NaN,
          Number.POSITIVE_INFINITY,
          -1,
          MAX_TIMEOUT,
          MAX_TIMEOUT + 1,
          '1000',
          null,
        ),
        anyValue,
      )
      fc.assert(
        fc.property(candidates, (value) => {
          const error = verdict({ baseURL, [name]: value })
          const good =
            typeof value === 'number' &&
            Number.isFinite(value) &&
            (positive ? value > 0 : value >= 0) &&
            value <= MAX_TIMEOUT
          // null, like undefined, means "the default" for options that have one (noted in the README).
          if (good || value === undefined || value === null) expect(error).toBeUndefined()
          else expectRefused(error, name)
        }),
        { numRuns: RUNS },
      )
    },
  )

  test.each(['fetch', 'isUnauthorized', 'credentials', 'now'] as const)(
    '%s: a function or nothing',
    (name) => {
      fc.assert(
        fc.property(fc.oneof(anyValue, fc.func(fc.anything())), (value) => {
          const error = verdict({ baseURL, [name]: value })
          if (value === undefined || typeof value === 'function') expect(error).toBeUndefined()
          else expectRefused(error, name)
        }),
        { numRuns: RUNS },
      )
    },
  )

  test('credentials given as an object instead of a function: refused without echoing the password', () => {
    const password = 'hunter2-correct-horse-battery'
    const error = verdict({ baseURL, credentials: { email_address: 'demo@plantly.test', password } })
    expectRefused(error, 'credentials')
    expect(JSON.stringify(error)).not.toContain(password)
    expect(String(error)).not.toContain(password)
  })

  test('allowedOrigins: exact http(s) origins only (no paths, wildcards, queries, credentials)', () => {
    const entry = fc.oneof(
      fc.webUrl({
        withQueryParameters: true,
        withFragments: true,
        authoritySettings: { withUserInfo: true, withPort: true },
      }),
      fc.webUrl({ authoritySettings: { withPort: true } }).map((u) => new URL(u).origin),
      fc.constantFrom(
        '*',
        'https://*.plantly.test',
        'https://files.test/',
        'https://files.test/v1',
        'https://files.test?x=1',
        'https://user:pw@files.test',
        'null',
        'file:///etc/passwd',
        'data:text/plain,x',
        'files.test',
        '',
      ),
      fc.string(),
      anyValue,
    )
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 4 }), (origins) => {
        // Echoing a value must never be what fails (a BigInt cannot be JSON-serialised).
        const error = verdict({ baseURL, allowedOrigins: origins })
        const good = origins.every((o) => {
          if (typeof o !== 'string' || o.includes('*')) return false
          try {
            const url = new URL(o)
            const web = url.protocol === 'http:' || url.protocol === 'https:'
            return web && !url.username && !url.password && !url.search && !url.hash && url.pathname === '/'
          } catch {
            return false
          }
        })
        if (good) {
          expect(error).toBeUndefined()
          const plantly = createSessionFetch({ baseURL, allowedOrigins: origins as string[] })
          for (const o of origins as string[])
            expect(pipelineOf(plantly, 'client').covers(`${new URL(o).origin}/x`, 'GET')).toBe(true)
        } else expectRefused(error, 'allowedOrigins')
      }),
      { numRuns: RUNS, examples: [[[{ '': 0n }]]] }, // found: echoing a BigInt threw a TypeError,
    )
  })

  test('allowedOrigins that is not an array (a single string, an object) is refused', () => {
    for (const value of ['https://files.test', { 0: 'https://files.test', length: 1 }, 42, 10n]) {
      expectRefused(verdict({ baseURL, allowedOrigins: value }), 'allowedOrigins')
    }
  })

  test('store and protocol: objects with the required functions', () => {
    fc.assert(
      fc.property(fc.constantFrom('store', 'protocol'), anyValue, (name, value) => {
        const error = verdict({ baseURL, [name]: value })
        if (value === undefined || value === null) expect(error).toBeUndefined()
        else expectRefused(error, name)
      }),
      { numRuns: RUNS },
    )
  })

  test('plantlySessions: retry, retryDelayMs and path are checked up front too', () => {
    fc.assert(
      fc.property(fc.constantFrom('retry', 'retryDelayMs', 'path'), anyValue, (name, value) => {
        if (value === undefined || value === null) return // the default
        try {
          plantlySessions({ baseURL, [name]: value })
        } catch (error) {
          expect(error).toBeInstanceOf(OptionError)
          expect((error as OptionError).option).toBe(name)
          return
        }
        // Accepted: it was a sensible value.
        if (name === 'retry') expect(Number.isInteger(value) && (value as number) >= 0).toBe(true)
        if (name === 'retryDelayMs') expect(typeof value === 'number' && value > 0).toBe(true)
        if (name === 'path') expect(typeof value === 'string' && value.startsWith('/')).toBe(true)
      }),
      { numRuns: RUNS, examples: [['path', { '': 0n }]] }, // found: echoing a BigInt threw a TypeError,
    )
  })
})

// ---- a malicious server --------------------------------------------------------------------------------

/**
 * A transport that answers login (and refresh) with `session`, records what API calls carried, and answers
 * them with `apiStatus`.
 */
function maliciousServer(session: () => Record<string, unknown>, apiStatus = 401) {
  const sent: { url: string; authorization: string | null }[] = []
  const fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === 'object' && 'url' in input ? input.url : String(input)
    const headers = new Headers(init?.headers)
    if (url.endsWith('/auth/sessions')) {
      return new Response(JSON.stringify(session()), { headers: { 'content-type': 'application/json' } })
    }
    sent.push({ url, authorization: headers.get('authorization') })
    return new Response('{}', { status: apiStatus, headers: { 'content-type': 'application/json' } })
  }
  return { fetch, sent }
}

// A secret put where it does not belong: a password in a URL's user info or query, a key or password given as a
// string, a JWT given instead of a function. Each option is refused with an OptionError naming it, and nothing it
// shows (message, JSON, stack, util.inspect) holds the secret, in any of the encodings a URL gives it.
const SECRET = 'S3cr3t-hunter2-Pa55'
const secretForms = [SECRET, SECRET.toLowerCase(), encodeURIComponent(SECRET)]
const secretURLs = [
  `https://user:${SECRET}@api.test`, // parses, with credentials
  `https://user:${SECRET}@api test`, // does not parse (a space in the host)
  `https://user:${SECRET}@[::1`, // does not parse (an unclosed IPv6 host)
  `user:${SECRET}@api.test`, // parses as the scheme `user:`
  `ftp://user:${SECRET}@api.test`, // another scheme
  `https://api.test/?api_key=${SECRET}`, // a query
  `https://api.test/#${SECRET}`, // a fragment
  `https://user:${SECRET}@*.api.test`, // a wildcard
]

function refusal(make: () => unknown): OptionError {
  try {
    make()
  } catch (error) {
    if (error instanceof OptionError) return error
    throw new Error(`not an OptionError: ${String(error)}`)
  }
  throw new Error('accepted')
}

function expectSecretNotShown(error: OptionError, option: string): void {
  expect(error.option).toBe(option)
  const said = [error.message, String(error), JSON.stringify(error), error.stack, inspect(error)].join('\n')
  for (const form of secretForms) expect(said).not.toContain(form)
}

describe('an option holding a secret: refused naming the option, never showing the secret', () => {
  test.each(secretURLs)('baseURL, plantlySessions({ baseURL }) and allowedOrigins: %s', (url) => {
    expectSecretNotShown(
      refusal(() => createSessionFetch({ baseURL: url })),
      'baseURL',
    )
    expectSecretNotShown(
      refusal(() => plantlySessions({ baseURL: url })),
      'baseURL',
    )
    if (!url.includes('/?') && !url.includes('/#')) {
      // An origin's query or fragment after a path is allowed to fail as "more than an origin" too.
      expectSecretNotShown(
        refusal(() => createSessionFetch({ baseURL, allowedOrigins: [url] })),
        'allowedOrigins',
      )
    }
    expectSecretNotShown(
      refusal(() => createSessionFetch({ baseURL, allowedOrigins: [`${url}/x`] })),
      'allowedOrigins',
    )
    expectSecretNotShown(
      refusal(() => createSessionFetch({ baseURL, allowedOrigins: url as unknown as string[] })),
      'allowedOrigins',
    )
  })

  test.each(secretURLs.filter((url) => !url.includes('/?')))(
    'oauth2 tokenEndpoint, revocationEndpoint, issuer and resource: %s',
    (url) => {
      const base = { tokenEndpoint: 'https://auth.test/token', clientId: 'svc' }
      expectSecretNotShown(
        refusal(() => oauth2({ ...base, tokenEndpoint: url })),
        'tokenEndpoint',
      )
      expectSecretNotShown(
        refusal(() => oauth2({ ...base, revocationEndpoint: url })),
        'revocationEndpoint',
      )
      expectSecretNotShown(
        refusal(() => oauth2({ clientId: 'svc', issuer: url })),
        'issuer',
      )
      if (!url.startsWith('user:')) {
        // `user:…@api.test` is an absolute URI, which a resource indicator may be.
        expectSecretNotShown(
          refusal(() => oauth2({ ...base, resource: [`${url}#f`] })),
          'resource',
        )
      }
    },
  )

  test.each(['credentials', 'fetch', 'isUnauthorized', 'now'] as const)(
    'createSessionFetch %s given as the secret string, where a function goes',
    (option) => {
      const options = { baseURL, [option]: SECRET } as unknown as SessionFetchOptions
      expectSecretNotShown(
        refusal(() => createSessionFetch(options)),
        option,
      )
    },
  )

  test('plantlySessions path given a full URL with a password', () => {
    const error = refusal(() =>
      plantlySessions({ baseURL, path: `https://user:${SECRET}@api.test/auth/sessions` }),
    )
    expectSecretNotShown(error, 'path')
  })

  test('oauth2: a client secret that is not printable, or given with a key; an assertion given as a string', async () => {
    const base = { tokenEndpoint: 'https://auth.test/token', clientId: 'svc' }
    expectSecretNotShown(
      refusal(() => oauth2({ ...base, clientSecret: `${SECRET}\n` })),
      'clientSecret',
    )
    const { privateKey } = await generateKeyPair('ES256')
    expectSecretNotShown(
      refusal(() => oauth2({ ...base, clientSecret: SECRET, clientAssertionKey: privateKey })),
      'clientSecret',
    )
    const jwt = craftJwt({ sub: SECRET })
    const asString = { ...base, clientAssertion: jwt as unknown as () => string }
    const error = refusal(() => oauth2(asString))
    expectSecretNotShown(error, 'clientAssertion')
    expect(inspect(error)).not.toContain(jwt.slice(0, 20)) // not even its start
    expectSecretNotShown(
      refusal(() => oauth2({ ...base, clientAssertionKey: { kty: 'oct', d: SECRET } })),
      'clientAssertionKey',
    )
  })

  test.each([`http://:${SECRET}@redis.test:6379`, `redis://:${SECRET}@redis test`, `:${SECRET}@redis.test`])(
    'redisStore url and rootNodes: %s',
    (url) => {
      expectSecretNotShown(
        refusal(() => redisStore({ key: 'k', url })),
        'url',
      )
      expectSecretNotShown(
        refusal(() => redisStore({ key: 'k', rootNodes: [url] })),
        'rootNodes',
      )
    },
  )

  test('redisStore and fileStore: an encryption key given as a string (process.env.KEY)', () => {
    const key = `${SECRET}${SECRET}` as unknown as Uint8Array
    for (const error of [
      refusal(() => redisStore({ key: 'k', url: 'redis://127.0.0.1:6379', encryptionKey: key })),
      refusal(() => fileStore({ name: 'x', encryptionKey: key })),
    ]) {
      expectSecretNotShown(error, 'encryptionKey')
      expect(error.message).toContain('got a string')
    }
  })

  test('browserStore: a lock manager given as a string (with IndexedDB, where the option is used)', () => {
    vi.stubGlobal('indexedDB', new IDBFactory())
    try {
      const options = { locks: SECRET as unknown as null }
      expectSecretNotShown(
        refusal(() => browserStore(options)),
        'locks',
      )
    } finally {
      vi.unstubAllGlobals()
    }
  })
})

// Characters that could end or split an Authorization header line, or smuggle a second header.
const splitters = fc.constantFrom('\r', '\n', '\r\n', '\0', ' ', '\t', '\u2028', '\u0085', 'é', '\x7f')
const hostileToken = fc
  .tuple(fc.string({ unit: 'grapheme', maxLength: 12 }), splitters, fc.string({ maxLength: 12 }))
  .map(([a, split, b]) => `tok_${a}${split}X-Injected: ${b}`)

function errorTexts(error: unknown): string {
  const texts = [String(error), JSON.stringify(error) ?? '']
  for (let e: unknown = error; e instanceof Error; e = e.cause) texts.push(e.message, String(e.stack))
  return texts.join('\n')
}

describe('a malicious server: tokens that could inject headers', () => {
  test('a login answer whose access_token carries CR/LF (or any non-token character) is refused, unechoed', async () => {
    await fc.assert(
      fc.asyncProperty(
        hostileToken,
        fc.constantFrom('access_token', 'refresh_token'),
        async (token, field) => {
          const good = craftJwt({ sub: 'demo', iat: 0, exp: 3600 })
          const server = maliciousServer(() => ({
            type: 'auth.session',
            token_type: 'bearer',
            access_token: good,
            refresh_token: good,
            expires_in: 3600,
            [field]: token,
          }))
          const plantly = createSessionFetch({ baseURL, fetch: server.fetch })
          const error = await plantly
            .login({ email_address: 'a@b.test', password: 'pw' })
            .catch((e: unknown) => e)
          expect(error).toBeInstanceOf(LoginError)
          expect((error as LoginError).cause).toMatchObject({ name: 'InvalidResponseError', field })
          expect(errorTexts(error)).not.toContain(token)
          expect(errorTexts(error)).not.toContain('X-Injected')
          expect(await plantly.getSession()).toBeUndefined()
          // Nothing was ever sent with it.
          await plantly.fetch('/buyers')
          expect(server.sent).toEqual([{ url: `${baseURL}/buyers`, authorization: null }])
        },
      ),
      { numRuns: RUNS },
    )
  })

  test('a refresh answer with a header-splitting token: RefreshError, session kept, the token never sent', async () => {
    await fc.assert(
      fc.asyncProperty(hostileToken, async (token) => {
        const good = craftJwt({ sub: 'demo', iat: 0, exp: 3600 })
        let answer: Record<string, unknown> = {
          type: 'auth.session',
          token_type: 'bearer',
          access_token: good,
          refresh_token: good,
          expires_in: 3600,
        }
        const server = maliciousServer(() => answer)
        const plantly = createSessionFetch({ baseURL, fetch: server.fetch })
        await plantly.login({ email_address: 'a@b.test', password: 'pw' })
        answer = { ...answer, access_token: token }
        const error = await plantly.fetch('/buyers').catch((e: unknown) => e) // 401 → refresh → refused
        expect(error).toBeInstanceOf(RefreshError)
        expect(errorTexts(error)).not.toContain(token)
        expect((await plantly.getSession())?.access_token).toBe(good)
        for (const call of server.sent) expect(call.authorization).toBe(`Bearer ${good}`)
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    )
  })

  test('token_type other than bearer is refused', async () => {
    for (const tokenType of ['mac', 'Bearer\r\nX-Injected: 1', 'basic', 42]) {
      const good = craftJwt({ sub: 'demo' })
      const server = maliciousServer(() => ({
        access_token: good,
        refresh_token: good,
        token_type: tokenType,
      }))
      const plantly = createSessionFetch({ baseURL, fetch: server.fetch })
      const error = await plantly
        .login({ email_address: 'a@b.test', password: 'pw' })
        .catch((e: unknown) => e)
      expect((error as LoginError).cause).toMatchObject({ field: 'token_type' })
    }
  })

  test('a token of any printable characters without spaces is sent exactly as received', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[\x21-\x7e]{1,200}$/), async (token) => {
        const server = maliciousServer(() => ({
          token_type: 'bearer',
          access_token: token,
          refresh_token: 'r_1',
        }))
        const plantly = createSessionFetch({ baseURL, fetch: server.fetch })
        await plantly.login({ email_address: 'a@b.test', password: 'pw' })
        await plantly.fetch('/buyers')
        expect(server.sent[0]?.authorization).toBe(`Bearer ${token}`)
      }),
      { numRuns: RUNS },
    )
  })
})

// ---- fetch() with hostile arguments ------------------------------------------------------------------

describe('fetch() keeps fetch’s contract with hostile arguments', () => {
  function client() {
    const server = maliciousServer(
      () => ({
        token_type: 'bearer',
        access_token: 'secret-access-token',
        refresh_token: 'secret-refresh-token',
        expires_in: 3600,
      }),
      200,
    )
    return { server, plantly: createSessionFetch({ baseURL, fetch: server.fetch }) }
  }

  test('invalid headers, odd inputs: a rejected promise, never a synchronous throw, never the token', async () => {
    const { plantly } = client()
    await plantly.login({ email_address: 'a@b.test', password: 'pw' })
    const attempts: [string, () => Promise<Response>][] = [
      [
        'a header value with CR/LF',
        () => plantly.fetch('/x', { headers: { 'x-note': 'a\r\nX-Injected: 1' } }),
      ],
      ['an invalid header name', () => plantly.fetch('/x', { headers: { 'bad name': 'v' } })],
      ['headers that are not headers', () => plantly.fetch('/x', { headers: 42 as unknown as HeadersInit })],
      [
        'a Request-like object without headers',
        () => plantly.fetch({ url: `${baseURL}/x` } as unknown as Request),
      ],
    ]
    for (const [name, attempt] of attempts) {
      let result: Promise<Response> | undefined
      expect(() => {
        result = attempt()
      }, name).not.toThrow()
      const error = await result?.catch((e: unknown) => e)
      expect(error, name).toBeInstanceOf(Error)
      expect(errorTexts(error), name).not.toContain('secret-access-token')
    }
  })

  test('a non-Request, non-URL input that fetch takes as a URL is used as one, like fetch', async () => {
    const { plantly, server } = client()
    await plantly.login({ email_address: 'a@b.test', password: 'pw' })
    const location = { toString: () => `${baseURL}/from-object` }
    await plantly.fetch(location as unknown as string)
    expect(server.sent.map((s) => [s.url, s.authorization])).toEqual([
      [`${baseURL}/from-object`, 'Bearer secret-access-token'],
    ])
  })

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a plain object', {}],
    ['an object whose string is a relative path', { toString: () => '/buyers' }],
    ['a symbol', Symbol('input')],
  ])(
    'fetch(%s) rejects with the TypeError global fetch rejects with: no request, no token, no login',
    async (_, input) => {
      const expected = await globalThis.fetch(input as unknown as string).catch((e: unknown) => e)
      expect(expected).toBeInstanceOf(TypeError) // global fetch refuses it (in Node: no base URL to resolve against)
      const { sent, fetch } = maliciousServer(() => ({
        access_token: 'secret-access-token',
        expires_in: 3600,
      }))
      let sessionCalls = 0
      const plantly = createSessionFetch({
        baseURL,
        fetch: (input, init) => {
          sessionCalls++
          return fetch(input, init)
        },
        credentials: () => ({ email_address: 'a@b.test', password: 'pw' }),
      })
      const actual = await plantly.fetch(input as unknown as string).catch((e: unknown) => e)
      expect(actual).toBeInstanceOf(TypeError)
      expect((actual as TypeError).message).toBe((expected as TypeError).message)
      expect(sent).toEqual([])
      expect(sessionCalls).toBe(0) // not even the unattended login a request without a session would start
    },
  )

  test('no generated URL gets the token unless its origin is allowed (as the transport parses it)', async () => {
    const { plantly, server } = client()
    await plantly.login({ email_address: 'a@b.test', password: 'pw' })
    const allowed = new Set([baseURL])
    const tricky = fc.constantFrom(
      'https://api.test.evil.test/x',
      'https://api.test@evil.test/x',
      'https://evil.test/https://api.test/x',
      'https://evil.test?https://api.test/',
      'http://api.test/x',
      'https://api.test:444/x',
      'https:api.test/x',
      'https:\\\\evil.test/x',
      'HTTPS://API.TEST/x',
      'https://api.test./x',
      '//evil.test/x',
      '\\\\evil.test/x',
      '/\\evil.test/x',
      'https://%61pi.test/x',
      'https://api.test\\@evil.test/x',
      'https://xn--pi-ula.test/x',
      ' https://evil.test/x',
      'https://evil.test\t/x',
    )
    await fc.assert(
      fc.asyncProperty(fc.oneof(tricky, fc.webUrl(), fc.string()), async (input) => {
        server.sent.length = 0
        await plantly.fetch(input).catch(() => undefined)
        for (const call of server.sent) {
          let origin: string | undefined
          try {
            origin = new URL(call.url).origin
          } catch {
            origin = undefined
          }
          if (origin === undefined || !allowed.has(origin)) expect(call.authorization, call.url).toBeNull()
        }
      }),
      { numRuns: RUNS },
    )
  })
})
