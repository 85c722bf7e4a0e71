import { describe, expect, test } from 'vitest'
import { isInsufficientScope, parseWWWAuthenticate } from '../../src/core/challenges.js'

// WWW-Authenticate as RFC 9110 §11.6.1 writes it: several challenges, parameters or a token68, quoted strings.

describe('parseWWWAuthenticate', () => {
  test('RFC 9110 §11.6.1: two challenges, commas and escaped quotes inside quoted strings', () => {
    const header = 'Newauth realm="apps", type=1, title="Login to \\"apps\\", please", Basic realm="simple"'
    expect(parseWWWAuthenticate(header)).toEqual([
      { scheme: 'newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps", please' } },
      { scheme: 'basic', params: { realm: 'simple' } },
    ])
  })

  test('token68, bare schemes, case, and spaces around "="', () => {
    expect(parseWWWAuthenticate('Negotiate YII=, Bearer, DPoP ALGS = "ES256 EdDSA"')).toEqual([
      { scheme: 'negotiate', token68: 'YII=', params: {} },
      { scheme: 'bearer', params: {} },
      { scheme: 'dpop', params: { algs: 'ES256 EdDSA' } },
    ])
  })

  test('RFC 6750 and RFC 9449 challenges as servers send them', () => {
    const response = new Response(null, {
      status: 401,
      headers: [
        ['www-authenticate', 'Bearer realm="api", error="insufficient_scope", scope="reports:write"'],
        [
          'www-authenticate',
          'DPoP error="use_dpop_nonce", error_description="Resource server requires nonce"',
        ],
      ],
    })
    const challenges = parseWWWAuthenticate(response)
    expect(challenges).toEqual([
      { scheme: 'bearer', params: { realm: 'api', error: 'insufficient_scope', scope: 'reports:write' } },
      {
        scheme: 'dpop',
        params: { error: 'use_dpop_nonce', error_description: 'Resource server requires nonce' },
      },
    ])
    expect(parseWWWAuthenticate(response.headers)).toEqual(challenges)
  })

  test('no header, an empty one, or garbage: what could be read', () => {
    expect(parseWWWAuthenticate(new Response(null))).toEqual([])
    expect(parseWWWAuthenticate('')).toEqual([])
    expect(parseWWWAuthenticate(null)).toEqual([])
    expect(parseWWWAuthenticate('Bearer error="unterminated')).toEqual([{ scheme: 'bearer', params: {} }])
  })

  test('isInsufficientScope reads the error parameter, not the text', () => {
    expect(isInsufficientScope('Basic realm="x", Bearer error=insufficient_scope')).toBe(true)
    expect(isInsufficientScope('Bearer error="invalid_token", error_description="insufficient_scope?"')).toBe(
      false,
    )
    expect(isInsufficientScope(undefined)).toBe(false)
  })
})
