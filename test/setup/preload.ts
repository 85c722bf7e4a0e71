// The session calls (ofetch) and the refresh queue (p-queue) are loaded on first use, with a dynamic import().
// Tests that script the server step by step (fake timers, a few event-loop turns per step) must not see that
// first load as a delay: load both before every test file.
import { beforeAll } from 'vitest'
import { preloadQueue } from '../../src/core/lazy-queue.js'
import { preloadSessionCall } from '../../src/protocols/session-call.js'

beforeAll(async () => {
  await Promise.all([preloadSessionCall(), preloadQueue()])
})
