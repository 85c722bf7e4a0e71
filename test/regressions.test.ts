import { afterEach, expect, test, vi } from 'vitest'
import { createSessionFetch } from '../src/index.js'
import { flush } from './helpers/flush.js'
import { ScriptedApi } from './helpers/scripted-api.js'

// Bugs the reliability suite (issue 5) found, each pinned by the smallest readable case. The property test
// keeps the shrunk counterexamples too (test/model.property.test.ts, REGRESSIONS).

const BASE = 'https://api.test'
const DEMO = { email_address: 'demo@plantly.test', password: 'plantly' }

afterEach(() => {
  vi.useRealTimers()
})

test('a login aborted while ofetch waits to retry a 503 leaves no timer behind', async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] })
  const api = new ScriptedApi({ baseURL: BASE, ttlSeconds: 60 })
  const plantly = createSessionFetch({ baseURL: BASE, fetch: api.fetch, refreshTimeoutMs: 10_000 })
  const controller = new AbortController()
  const login = plantly.login(DEMO, { signal: controller.signal })
  login.catch(() => undefined)
  await flush()
  await api.deliver(api.next('login'), '503')
  await flush()
  expect(vi.getTimerCount()).toBeGreaterThan(0) // the retry is scheduled
  controller.abort()
  await expect(login).rejects.toBe(controller.signal.reason)
  expect(vi.getTimerCount()).toBe(0)
  expect(api.inFlight()).toBe(0)
})
