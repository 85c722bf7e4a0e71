import { join } from 'node:path'
import { describe, test } from 'vitest'
import { tempFolder } from '../../helpers/file-store.js'
import { mockServer } from '../../helpers/mock-server.js'
import { rollingDeploy } from '../../helpers/rolling-deploy.js'

// Shutting down a process that shares its session through a file, with refresh-token rotation and reuse
// detection on at the server (the mock's defaults): close() lets the refresh under way land and be stored.
describe('shutting down with a file store', () => {
  test('a rolling deploy: the lock holder gets SIGTERM mid-refresh and closes; the refresh lands, the 2 others use the new token, 0 reuse, the session stays live', async () => {
    const server = await mockServer({ refreshLatencyMs: 1_000 })
    const file = join(await tempFolder('shutdown'), 'session.json')
    const counts = await rollingDeploy(server, { baseURL: server.url, file })
    console.info(`file rolling deploy: ${JSON.stringify(counts)}`)
  }, 120_000)
})
