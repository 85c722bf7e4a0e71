import { describe, expect, test } from 'vitest'
import { pipelineOf } from '../../src/adapters/shared/pipeline-registry.js'
import {
  createSessionFetch,
  memoryStore,
  OptionError,
  plantlySessions,
  type SessionFetchOptions,
} from '../../src/index.js'
import { oauth2 } from '../../src/protocols/oauth2/index.js'
import { browserStore } from '../../src/stores/browser/index.js'
import { redisStore } from '../../src/stores/redis/index.js'

const baseURL = 'https://api.plantly.test'

function optionError(options: unknown): OptionError {
  try {
    createSessionFetch(options as SessionFetchOptions)
  } catch (error) {
    expect(error).toBeInstanceOf(OptionError)
    return error as OptionError
  }
  throw new Error('expected createSessionFetch to throw')
}

describe('createSessionFetch rejects bad options up front, naming the option', () => {
  test.each([
    ['missing options', undefined, 'options'],
    ['missing baseURL', {}, 'baseURL'],
    ['relative baseURL', { baseURL: '/api' }, 'baseURL'],
    ['ftp baseURL', { baseURL: 'ftp://api.plantly.test' }, 'baseURL'],
    ['baseURL with credentials', { baseURL: 'https://user:pw@api.plantly.test' }, 'baseURL'],
    ['baseURL with a query', { baseURL: 'https://api.plantly.test/?x=1' }, 'baseURL'],
    ['fetch not a function', { baseURL, fetch: 'fetch' }, 'fetch'],
    ['negative refreshWindowMs', { baseURL, refreshWindowMs: -1 }, 'refreshWindowMs'],
    ['NaN refreshWindowMs', { baseURL, refreshWindowMs: Number.NaN }, 'refreshWindowMs'],
    ['zero refreshTimeoutMs', { baseURL, refreshTimeoutMs: 0 }, 'refreshTimeoutMs'],
    [
      'Infinity refreshTimeoutMs',
      { baseURL, refreshTimeoutMs: Number.POSITIVE_INFINITY },
      'refreshTimeoutMs',
    ],
    ['string refreshTimeoutMs', { baseURL, refreshTimeoutMs: '10s' }, 'refreshTimeoutMs'],
    ['allowedOrigins not an array', { baseURL, allowedOrigins: 'https://a.test' }, 'allowedOrigins'],
    ['allowedOrigins with a path', { baseURL, allowedOrigins: ['https://a.test/v1'] }, 'allowedOrigins'],
    [
      'allowedOrigins with a wildcard',
      { baseURL, allowedOrigins: ['https://*.plantly.test'] },
      'allowedOrigins',
    ],
    ['allowedOrigins not a URL', { baseURL, allowedOrigins: ['plantly.test'] }, 'allowedOrigins'],
    ['isUnauthorized not a function', { baseURL, isUnauthorized: 401 }, 'isUnauthorized'],
    [
      'credentials not a function',
      { baseURL, credentials: { email_address: 'a', password: 'b' } },
      'credentials',
    ],
    ['store without read/write', { baseURL, store: {} }, 'store'],
    ['protocol without login/refresh', { baseURL, protocol: {} }, 'protocol'],
  ])('%s', (_name, options, option) => {
    const error = optionError(options)
    expect(error.option).toBe(option)
    expect(error.code).toBe('invalid_option')
    expect(error.message).toContain(`\`${option}\``)
  })

  test('the value is shown so the mistake is visible, unless it may hold a secret (a URL)', () => {
    expect(optionError({ baseURL, refreshWindowMs: Number.NaN }).message).toContain('NaN')
    expect(optionError({ baseURL: 'api.plantly.test' }).message).toBe(
      'Invalid option `baseURL`: is not an absolute URL',
    )
  })

  test('accepts good options and normalises origins', () => {
    const plantly = createSessionFetch({
      baseURL: 'https://api.plantly.test/v1/',
      allowedOrigins: ['https://FILES.plantly.test:443'],
      refreshWindowMs: 0,
    })
    expect(pipelineOf(plantly, 'client').covers('https://files.plantly.test/x', 'GET')).toBe(true)
    expect(pipelineOf(plantly, 'client').covers('https://api.plantly.test/v1/buyers', 'GET')).toBe(true)
  })

  test('plantlySessions validates its own options', () => {
    expect(() => plantlySessions({ baseURL, retry: -1 })).toThrow(/`retry`/)
    expect(() => plantlySessions({ baseURL, path: 'auth' })).toThrow(/`path`/)
    expect(() => plantlySessions({ baseURL, retryDelayMs: Number.NaN })).toThrow(/`retryDelayMs`/)
  })
})

describe('an unknown option is refused, naming it and the closest known option', () => {
  /** What `create(options)` threw: it must be an OptionError. */
  function refused(create: () => unknown): OptionError {
    try {
      create()
    } catch (error) {
      expect(error).toBeInstanceOf(OptionError)
      return error as OptionError
    }
    throw new Error('expected an OptionError')
  }

  test.each([
    ['baseUrl', { baseUrl: baseURL }, 'baseURL'],
    ['baseurl next to baseURL', { baseURL, baseurl: baseURL }, 'baseURL'],
    ['refreshTimeout', { baseURL, refreshTimeout: 5_000 }, 'refreshTimeoutMs'],
    ['allowedOrigin', { baseURL, allowedOrigin: ['https://files.plantly.test'] }, 'allowedOrigins'],
    ['credential', { baseURL, credentials: undefined, credential: () => ({}) }, 'credentials'],
  ])('createSessionFetch: %s', (option, options, closest) => {
    const error = refused(() => createSessionFetch(options as unknown as SessionFetchOptions))
    expect(error.option).toBe(option.split(' ')[0])
    expect(error.message).toBe(
      `Invalid option \`${error.option}\`: unknown option (the closest known one is \`${closest}\`)`,
    )
  })

  test('an option nothing resembles is refused all the same', () => {
    const error = refused(() =>
      createSessionFetch({ baseURL, zzzzzzzz: 1 } as unknown as SessionFetchOptions),
    )
    expect(error.option).toBe('zzzzzzzz')
    expect(error.message).toMatch(
      /^Invalid option `zzzzzzzz`: unknown option \(the closest known one is `\w+`\)$/,
    )
  })

  test('the other factories: plantlySessions, oauth2, redisStore, browserStore', () => {
    const cases: [() => unknown, string, string][] = [
      [() => plantlySessions({ baseURL, retries: 4 } as never), 'retries', 'retry'],
      [
        () =>
          oauth2({
            tokenEndpoint: `${baseURL}/token`,
            clientId: 'app',
            client_secret: 'oauth-secret-value',
          } as never),
        'client_secret',
        'clientSecret',
      ],
      [
        () => redisStore({ url: 'redis://127.0.0.1:6379', key: 'k', encryptionkey: 'x' } as never),
        'encryptionkey',
        'encryptionKey',
      ],
      [() => browserStore({ keys: 'tabs' } as never), 'keys', 'key'],
    ]
    for (const [create, option, closest] of cases) {
      const error = refused(create)
      expect(error.option).toBe(option)
      expect(error.message).toContain(`the closest known one is \`${closest}\``)
      expect(error.message).not.toContain('oauth-secret-value') // values are never echoed
    }
  })

  test('every known option is accepted', () => {
    expect(() =>
      createSessionFetch({
        baseURL,
        fetch: globalThis.fetch,
        store: memoryStore(),
        refreshWindowMs: 1,
        refreshTimeoutMs: 1,
        allowedOrigins: [],
        isUnauthorized: () => false,
        credentials: () => ({ email_address: 'a', password: 'b' }),
        protocol: plantlySessions({ baseURL, path: '/auth/sessions', retry: 0, retryDelayMs: 1 }),
        now: Date.now,
      }),
    ).not.toThrow()
  })
})

describe('scoping: covers()', () => {
  const plantly = createSessionFetch({ baseURL, allowedOrigins: ['https://files.plantly.test'] })
  test.each([
    ['https://api.plantly.test/buyers', true],
    ['https://api.plantly.test', true],
    ['https://API.PLANTLY.TEST/buyers', true],
    ['https://api.plantly.test:443/buyers', true],
    ['https://files.plantly.test/f/1', true],
    ['http://api.plantly.test/buyers', false],
    ['https://api.plantly.test:8443/buyers', false],
    ['https://api.plantly.test.evil.test/buyers', false],
    ['https://api.plantly.test@evil.test/buyers', false],
    ['https://evil.test/https://api.plantly.test/', false],
    ['https://api.plantly.test/auth/sessions', false],
    ['not a url', false],
  ])('%s → %s', (url, expected) => {
    expect(pipelineOf(plantly, 'client').covers(url, 'GET')).toBe(expected)
  })
})
