import { SignJWT } from 'jose'
import { describe, expect, expectTypeOf, test } from 'vitest'
import { parseSession } from '../../src/core/parse-session.js'
import { refreshDueAt } from '../../src/core/session.js'
import { accessTokenLifetimeMs, toRecord } from '../../src/core/session-record.js'
import { InvalidResponseError } from '../../src/errors/invalid-response-error.js'
import type { Grant, SessionProtocol, TokenSet } from '../../src/index.js'

const key = new TextEncoder().encode('a-test-key-of-32-bytes-length!!!')

async function jwt(claims: { iat?: number; exp?: number }): Promise<string> {
  let builder = new SignJWT({}).setProtectedHeader({ alg: 'HS256' })
  if (claims.iat !== undefined) builder = builder.setIssuedAt(claims.iat)
  if (claims.exp !== undefined) builder = builder.setExpirationTime(claims.exp)
  return builder.sign(key)
}

const base = { type: 'auth.session', token_type: 'bearer', refresh_token: 'r1' }

describe('accessTokenLifetimeMs', () => {
  test('uses expires_in for an opaque token', () => {
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: 'opaque', expires_in: 120 } })).toBe(
      120_000,
    )
  })

  test('uses exp − iat of a JWT, whatever the local clock says', async () => {
    // Issued and expiring an hour in the past by the local clock: a skewed server, not an expired token.
    const iat = Math.floor(Date.now() / 1000) - 7200
    const token = await jwt({ iat, exp: iat + 600 })
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: token } })).toBe(600_000)
  })

  test('takes the shorter of expires_in and exp − iat', async () => {
    const token = await jwt({ iat: 1000, exp: 1300 })
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: token, expires_in: 3600 } })).toBe(
      300_000,
    )
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: token, expires_in: 60 } })).toBe(60_000)
  })

  test('anchors exp at the server Date header when the JWT has no iat', async () => {
    const serverNow = Date.UTC(2030, 0, 1)
    const token = await jwt({ exp: serverNow / 1000 + 90 })
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: token }, serverDate: serverNow })).toBe(
      90_000,
    )
  })

  test('falls back to expires_in when the JWT has no exp, or exp before iat', async () => {
    const noExp = await jwt({ iat: 1000 })
    const backwards = await jwt({ iat: 2000, exp: 1000 })
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: noExp, expires_in: 30 } })).toBe(30_000)
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: backwards, expires_in: 30 } })).toBe(
      30_000,
    )
  })

  test('is undefined when nothing says, and a malformed JWT is treated as opaque', () => {
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: 'a.b.c' } })).toBeUndefined()
    expect(accessTokenLifetimeMs({ session: { ...base, access_token: 'a.b.c', expires_in: 5 } })).toBe(5000)
  })
})

describe("TokenSet: what a protocol's login and refresh resolve with", () => {
  test('Grant, its deprecated name, is the same type: code written with it still compiles and runs', async () => {
    expectTypeOf<Grant>().toEqualTypeOf<TokenSet>()
    const issued: Grant = { session: { ...base, access_token: 'opaque', expires_in: 60 }, serverDate: 5_000 }
    const legacy: SessionProtocol<{ key: string }> = {
      name: 'legacy',
      sessionIssuer: 'legacy:https://auth.example.test',
      login: async (): Promise<Grant> => issued,
      refresh: async (): Promise<Grant> => issued,
    }
    const tokens: TokenSet = await legacy.login({ key: 'k' }, {} as never)
    expect(toRecord(tokens, 1_000)).toMatchObject({ receivedAt: 1_000, expiresAt: 61_000 })
  })
})

describe('refreshDueAt', () => {
  test('is expiry minus the window', () => {
    const record = toRecord({ session: { ...base, access_token: 't', expires_in: 3600 } }, 1_000_000)
    expect(record.expiresAt).toBe(1_000_000 + 3_600_000)
    expect(refreshDueAt(record, 30_000)).toBe(1_000_000 + 3_600_000 - 30_000)
  })

  test('never uses more than half the lifetime as the window', () => {
    const record = toRecord({ session: { ...base, access_token: 't', expires_in: 10 } }, 0)
    expect(refreshDueAt(record, 30_000)).toBe(5_000)
  })

  test('is never when the lifetime is unknown', () => {
    const record = toRecord({ session: { ...base, access_token: 't' } }, 0)
    expect(refreshDueAt(record, 30_000)).toBe(Number.POSITIVE_INFINITY)
  })
})

describe('parseSession', () => {
  test('accepts the API Session and keeps every field', () => {
    const body = { ...base, access_token: 'a', expires_in: 3600 }
    expect(parseSession(body)).toEqual(body)
  })

  test.each([
    ['not an object', '<html>502</html>', 'body'],
    ['no access_token', { ...base }, 'access_token'],
    ['access_token with CR/LF', { ...base, access_token: 'a\r\nX-Evil: 1' }, 'access_token'],
    ['access_token with a space', { ...base, access_token: 'a b' }, 'access_token'],
    ['refresh_token with LF', { ...base, access_token: 'a', refresh_token: 'r\n' }, 'refresh_token'],
    ['token_type mac', { ...base, access_token: 'a', token_type: 'mac' }, 'token_type'],
  ])('rejects %s, naming the field and never echoing the value', (_name, body, field) => {
    let error: unknown
    try {
      parseSession(body)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(InvalidResponseError)
    expect((error as InvalidResponseError).field).toBe(field)
    expect((error as Error).message).not.toMatch(/X-Evil|<html>/)
  })

  test('ignores an expires_in that is negative, zero or a string', () => {
    for (const expires_in of [-5, 0, '3600', Number.NaN]) {
      expect(parseSession({ ...base, access_token: 'a', expires_in }).expires_in).toBeUndefined()
    }
  })
})
