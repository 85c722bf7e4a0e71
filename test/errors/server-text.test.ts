// What a server wrote, made safe to show: the excerpt a message shows of it, and the forms of a secret it may
// echo. Pure functions, so no server here; the same rules over real HTTP are in server-answers.test.ts.
import { describe, expect, test } from 'vitest'
import { redact } from '../../src/errors/redact.js'
import { excerpt, secretForms, shownOrigin } from '../../src/errors/server-text.js'
import { ADVERSARIAL } from '../helpers/adversarial.js'
import { craftJwt } from '../helpers/jwt.js'

// Generous: the work is linear (a few ms for 1 MiB here); the quadratic pattern took minutes at this size.
const HANG_DETECTOR_MS = 2_000

describe('redact and excerpt are linear: 1 MiB of adversarial text in well under a second', () => {
  test.each(Object.entries(ADVERSARIAL))('%s', (_, text) => {
    const forms = secretForms(['hunter2-password', 'eyJeyJeyJ', 'a.a.a.a'])
    const started = performance.now()
    const shown = excerpt(text, 300, forms)
    const whole = redact(text, forms)
    const elapsed = performance.now() - started
    expect(elapsed).toBeLessThan(HANG_DETECTOR_MS)
    // 300 characters kept; each redaction may make its part longer (`[redacted]` for a 4-character secret).
    expect(shown.length).toBeLessThanOrEqual(3 * 300 + 1)
    expect(whole.length).toBeGreaterThan(0)
  })
})

describe('excerpt: the cut never leaves the start of a secret', () => {
  const secret = 'correct horse battery staple'
  const forms = secretForms([secret])

  test('a secret that crosses the cut is left out whole, not cut', () => {
    const text = `${'x '.repeat(140)}see ${secret} here${'!'.repeat(1000)}`
    expect(text.indexOf(secret)).toBeLessThan(300)
    expect(text.indexOf(secret) + secret.length).toBeGreaterThan(300)
    const shown = excerpt(text, 300, forms)
    expect(shown).toMatch(/see …$/)
    for (let n = 3; n <= secret.length; n++) expect(shown).not.toContain(secret.slice(0, n))
  })

  test('a secret inside the kept part is redacted, also when others push it towards the cut', () => {
    const text = `${`${secret} `.repeat(9)}${secret}${'y'.repeat(500)}`
    const shown = excerpt(text, 300, forms)
    expect(shown).not.toContain('correct horse')
    expect(shown).toContain('[redacted]')
  })

  test('a JWT cut in the middle is redacted: the cut moves before it', () => {
    const jwt = craftJwt({ sub: 'someone', exp: 2_000_000_000 })
    const text = `${'z '.repeat(145)}${jwt} tail`
    const shown = excerpt(text, 300, [])
    expect(shown.endsWith(' …')).toBe(true)
    expect(shown).not.toContain(jwt.slice(0, 4))
  })

  test('a JWT cut short by the server is still redacted (its first segment is enough)', () => {
    const jwt = craftJwt({ sub: 'someone', exp: 2_000_000_000 })
    expect(redact(`got ${jwt.slice(0, 20)}`)).toBe('got [redacted]')
  })

  test('control characters are not passed on (a message is one line; no terminal escapes)', () => {
    expect(excerpt('bad\r\n\x1b]0;owned\x07 request\x9b', 300, [])).toBe('bad   ]0;owned  request ')
  })
})

describe('secretForms: the ways a server echoes a secret', () => {
  const password = 'pa"ss/wörd %+ 1'

  test.each([
    ['as sent', password],
    ['percent-encoded', encodeURIComponent(password)],
    ['percent-encoded, lower-case hex', encodeURIComponent(password).replace(/%../g, (h) => h.toLowerCase())],
    ['form-encoded', new URLSearchParams({ p: password }).toString().slice(2)],
    ['JSON-escaped', JSON.stringify(password).slice(1, -1)],
    ['JSON-escaped with \\/', JSON.stringify(password).slice(1, -1).replaceAll('/', '\\/')],
    ['JSON-escaped, ASCII only', JSON.stringify(password).slice(1, -1).replace('ö', '\\u00f6')],
  ])('%s', (_, echoed) => {
    const shown = excerpt(`wrong password: ${echoed}.`, 300, secretForms([password]))
    expect(shown).toBe('wrong password: [redacted].')
  })

  test('a host name is lower-cased: a secret in an origin is found in any case', () => {
    expect(shownOrigin('https://hunter2-secret.evil.test', secretForms(['Hunter2-Secret']))).toBe(
      '[redacted]',
    )
    expect(shownOrigin('https://api.example.test:8443', secretForms(['Hunter2-Secret']))).toBe(
      'https://api.example.test:8443',
    )
  })
})
