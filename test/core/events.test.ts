import { expect, test } from 'vitest'
import { createSessionFetch, type SessionEventName } from '../../src/index.js'

test.each(['bogus', 'Login', 'refreshed', '', 'toString', '__proto__'])(
  'on(%j) throws a TypeError naming the event and the known ones',
  (name) => {
    const plantly = createSessionFetch({ baseURL: 'https://api.plantly.test' })
    expect(() => plantly.on(name as SessionEventName, () => {})).toThrow(TypeError)
    expect(() => plantly.on(name as SessionEventName, () => {})).toThrow(/login, refresh, logout, expired/)
    expect(plantly.stats().listeners).toBe(0)
  },
)

test('every documented event is accepted', () => {
  const plantly = createSessionFetch({ baseURL: 'https://api.plantly.test' })
  for (const name of ['login', 'refresh', 'logout', 'expired'] as const) plantly.on(name, () => {})
  expect(plantly.stats().listeners).toBe(4)
})
