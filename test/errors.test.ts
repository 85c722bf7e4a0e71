import { AxiosError } from 'axios'
import { describe, expect, test, vi } from 'vitest'
import {
  InvalidResponseError,
  isSessionFetchError,
  LoginError,
  LogoutError,
  OptionError,
  RefreshError,
  ResponseError,
  SessionExpiredError,
  SessionFetchError,
  SessionRejectedError,
  StoreError,
} from '../src/index.js'

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
    const copy: typeof import('../src/errors/login-error.js') = await import('../src/errors/login-error.js')
    const foreign = new copy.LoginError(401)
    expect(foreign).not.toBeInstanceOf(SessionFetchError) // a distinct class...
    expect(isSessionFetchError(foreign)).toBe(true) // ...that carries the same brand
  })
})
