import { AxiosError } from 'axios'
import { describe, expect, expectTypeOf, test, vi } from 'vitest'
import {
  type AnySessionFetchError,
  ClosedError,
  createSessionFetch,
  InvalidResponseError,
  isSessionFetchError,
  LoginError,
  LogoutError,
  OptionError,
  RedirectError,
  RefreshError,
  ResponseError,
  SessionExpiredError,
  SessionFetchError,
  SessionRejectedError,
  StoreError,
} from '../../src/index.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

describe('isSessionFetchError', () => {
  test('is true for every error class of the package', () => {
    const errors = [
      new SessionFetchError('no_session', 'x'),
      new InvalidResponseError('access_token', 'is missing'),
      new LoginError(401),
      new LogoutError(new Error('x')),
      new OptionError('baseURL', 'x'),
      new RefreshError(new Error('x')),
      new ResponseError({ status: 500, method: 'PUT', url: 'https://a.test/auth/sessions' }),
      new SessionExpiredError(),
      new SessionRejectedError(401),
      new StoreError('x'),
    ]
    for (const error of errors) expect(isSessionFetchError(error), error.name).toBe(true)
  })

  test('is false for an AxiosError, which also has a string `code` and `toJSON`', () => {
    const error = new AxiosError('Request failed with status code 401', 'ERR_BAD_REQUEST')
    expect(typeof error.code).toBe('string')
    expect(typeof error.toJSON).toBe('function')
    expect(isSessionFetchError(error)).toBe(false)
  })

  test('is false for any error shaped like ours: a string `code` and a `toJSON`', () => {
    const error = Object.assign(new Error('lookalike'), { code: 'login_failed', toJSON: () => ({}) })
    expect(isSessionFetchError(error)).toBe(false)
    expect(isSessionFetchError({ name: 'LoginError', code: 'login_failed', toJSON: () => ({}) })).toBe(false)
    expect(isSessionFetchError(undefined)).toBe(false)
    expect(isSessionFetchError('login_failed')).toBe(false)
  })

  test('is true for an error from another copy of the package (another bundle or realm)', async () => {
    vi.resetModules()
    const copy: typeof import('../../src/errors/login-error.js') = await import(
      '../../src/errors/login-error.js'
    )
    const foreign = new copy.LoginError(401)
    expect(foreign).not.toBeInstanceOf(SessionFetchError) // a distinct class...
    expect(isSessionFetchError(foreign)).toBe(true) // ...that carries the same brand
  })
})

describe('codes', () => {
  const every = (): AnySessionFetchError[] => [
    new ClosedError(),
    new InvalidResponseError('access_token', 'is missing'),
    new LoginError(401),
    new LogoutError(new Error('x')),
    new OptionError('baseURL', 'x'),
    new RedirectError('x'),
    new RefreshError(new Error('x')),
    new ResponseError({ status: 500, method: 'PUT', url: 'https://a.test/auth/sessions' }),
    new SessionExpiredError(),
    new SessionExpiredError('no_session'),
    new SessionRejectedError(401),
    new StoreError('x'),
  ]

  test('each code belongs to one class: a switch on `code` tells the class', () => {
    const classOf = new Map<string, string>()
    for (const error of every()) {
      expect(classOf.get(error.code) ?? error.name, error.code).toBe(error.name)
      classOf.set(error.code, error.name)
    }
    expect(classOf.get('session_rejected')).toBe('SessionRejectedError')
    expect(classOf.get('session_expired')).toBe('SessionExpiredError')
    expect(classOf.size).toBe(12)
  })

  test('the guard narrows to the union, and a switch on `code` narrows to the class (checked by tsc)', () => {
    const error: unknown = new LoginError(401)
    if (!isSessionFetchError(error)) throw new Error('not ours')
    expectTypeOf(error).toEqualTypeOf<AnySessionFetchError>()
    switch (error.code) {
      case 'login_failed':
        expectTypeOf(error).toEqualTypeOf<LoginError>()
        expect(error.status).toBe(401)
        break
      case 'invalid_option':
        expectTypeOf(error).toEqualTypeOf<OptionError>()
        break
      case 'session_expired':
      case 'no_session':
        expectTypeOf(error).toEqualTypeOf<SessionExpiredError>()
        break
      case 'session_rejected':
        expectTypeOf(error).toEqualTypeOf<SessionRejectedError>()
        break
      default:
        throw new Error(`unexpected ${error.code}`)
    }
  })
})

describe('a 2xx answer that is not a session says so, never "no answer from the server"', () => {
  test.each([
    ['an empty body', { status: 200 }, /`body` is empty/],
    [
      'an HTML page',
      { status: 200, body: '<html><body>Welcome</body></html>' },
      /`body` is not a JSON object/,
    ],
    [
      'JSON without access_token',
      { status: 200, body: { type: 'auth.session', expires_in: 60 } },
      /`access_token` is missing/,
    ],
  ])('login answered with %s: LoginError naming what is missing', async (_, fault, missing) => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    server.inject({ on: 'login', ...fault })
    const error = await plantly.login(DEMO_USER).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LoginError)
    expect((error as LoginError).status).toBeUndefined()
    expect((error as LoginError).cause).toBeInstanceOf(InvalidResponseError)
    expect((error as Error).message).toMatch(missing)
    expect((error as Error).message).not.toMatch(/no answer/)
    expect((error as Error).message).not.toContain(DEMO_USER.password)
  })

  test('refresh answered 200 with an empty body: RefreshError naming what is missing', async () => {
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url })
    await plantly.login(DEMO_USER)
    server.inject({ on: 'refresh', status: 200, times: 3 })
    const error = await plantly.refresh().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as Error).message).toMatch(/`body` is empty/)
  })
})

describe('StoreError', () => {
  test('carries its cause’s message, redacted', () => {
    const cause = new Error(
      'connect ECONNREFUSED 127.0.0.1:6379 (Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln)',
    )
    const error = new StoreError('Redis read failed', { cause })
    expect(error.message).toMatch(/ECONNREFUSED 127\.0\.0\.1:6379/)
    expect(error.message).not.toContain('eyJ')
  })

  test('names a cause that has no message by its class (a client library’s bare TimeoutError)', () => {
    class TimeoutError extends Error {}
    const error = new StoreError('Redis read failed', { cause: new TimeoutError() })
    expect(error.message).toBe('Redis read failed (TimeoutError)')
  })
})
