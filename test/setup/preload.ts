// The session calls (ofetch, the Plantly protocol's calls), the refresh queue (p-queue), the renewal, the login call and ending sessions are
// loaded on first use, with a dynamic import(), and so are the fetch adapter's rarer parts (FormData, streamed and
// Request bodies, redirects, reading a refused body, the WWW-Authenticate parser). Tests that script the server
// step by step (fake timers, a few event-loop turns per step) must not see that first load as a delay: load them
// before every test file.
import { beforeAll } from 'vitest'
import { preloadRefresh } from '../../src/core/refresh-coordinator.js'
import { preloadSessionCall } from '../../src/protocols/session-call.js'

beforeAll(async () => {
  await Promise.all([
    preloadSessionCall(),
    preloadRefresh(),
    import('../../src/adapters/fetch/sent-bodies.js'),
    import('../../src/adapters/fetch/redirects.js'),
    import('../../src/adapters/fetch/drain.js'),
    import('../../src/core/challenges.js'),
    import('../../src/protocols/plantly/plantly-calls.js'),
  ])
})
