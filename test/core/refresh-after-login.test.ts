import { expect, test } from 'vitest'
import { createSessionFetch } from '../../src/index.js'
import { DEMO_USER, mockServer } from '../helpers/mock-server.js'

test('refresh() right after login() renews the session it just got (not "no session")', async () => {
  const server = await mockServer()
  const plantly = createSessionFetch({ baseURL: server.url })
  const first = await plantly.login(DEMO_USER)
  const renewed = await plantly.refresh()
  expect(renewed.access_token).not.toBe(first.access_token)
  expect(server.counters.refreshes).toBe(1)
})
