// The session calls (ofetch), the refresh queue (p-queue), the renewal and ending sessions are loaded on first use,
// with a dynamic import(). Tests that script the server step by step (fake timers, a few event-loop turns per
// step) must not see that first load as a delay: load them before every test file.
import { beforeAll } from 'vitest'
import { preloadRefresh } from '../../src/core/refresh-coordinator.js'
import { preloadSessionCall } from '../../src/protocols/session-call.js'

beforeAll(async () => {
  await Promise.all([preloadSessionCall(), preloadRefresh()])
})
