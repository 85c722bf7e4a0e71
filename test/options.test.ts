import { describe, expect, test } from 'vitest'
import { createSessionFetch, OptionError, plantlySessions, type SessionFetchOptions } from '../src/index.js'

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

  test('the value is quoted so the mistake is visible', () => {
    expect(optionError({ baseURL: 'api.plantly.test' }).message).toContain('"api.plantly.test"')
    expect(optionError({ baseURL, refreshWindowMs: Number.NaN }).message).toContain('NaN')
  })

  test('accepts good options and normalises origins', () => {
    const plantly = createSessionFetch({
      baseURL: 'https://api.plantly.test/v1/',
      allowedOrigins: ['https://FILES.plantly.test:443'],
      refreshWindowMs: 0,
    })
    expect(plantly.core.authorizes('https://files.plantly.test/x', 'GET')).toBe(true)
    expect(plantly.core.authorizes('https://api.plantly.test/v1/buyers', 'GET')).toBe(true)
  })

  test('plantlySessions validates its own options', () => {
    expect(() => plantlySessions({ baseURL, retry: -1 })).toThrow(/`retry`/)
    expect(() => plantlySessions({ baseURL, path: 'auth' })).toThrow(/`path`/)
    expect(() => plantlySessions({ baseURL, retryDelayMs: Number.NaN })).toThrow(/`retryDelayMs`/)
  })
})

describe('scoping: authorizes()', () => {
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
    expect(plantly.core.authorizes(url, 'GET')).toBe(expected)
  })
})
