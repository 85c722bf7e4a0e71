import { execFile } from 'node:child_process'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const run = promisify(execFile)
let dir: string

// Build, pack, and install the tarball in an empty project, as a user would.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'session-fetch-pack-'))
  await run('npm', ['run', 'build'], { cwd: process.cwd() })
  await run('npm', ['pack', '--pack-destination', dir], { cwd: process.cwd() })
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'))
  if (!tarball) throw new Error('npm pack produced no tarball')
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', join(dir, tarball)], {
    cwd: dir,
  })
}, 180_000)

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true })
})

describe('the published package', () => {
  test('import works from ESM', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "import { createSessionFetch, memoryStore, RefreshError } from 'session-fetch'; import { startMockServer } from 'session-fetch/mock'; console.log(typeof createSessionFetch, typeof memoryStore, new RefreshError(new Error('x')).name, typeof startMockServer)",
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('function function RefreshError function')
  })

  test('require works from CommonJS', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        "const { createSessionFetch, LoginError } = require('session-fetch'); const { startMockServer } = require('session-fetch/mock'); console.log(typeof createSessionFetch, new LoginError(401).status, typeof startMockServer)",
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('function 401 function')
  })

  test('a packed client logs in against the packed mock server', async () => {
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `import { createSessionFetch } from 'session-fetch'
         import { startMockServer } from 'session-fetch/mock'
         const server = await startMockServer()
         const plantly = createSessionFetch({ baseURL: server.url })
         await plantly.login({ email_address: 'demo@plantly.test', password: 'plantly' })
         server.mock.expireAccessTokens()
         const r = await plantly.fetch('/buyers')
         console.log(r.status, server.counters.refreshes)
         await server.close()`,
      ],
      { cwd: dir },
    )
    expect(stdout.trim()).toBe('200 1')
  })

  test('publint finds nothing wrong with package.json and the exports map', async () => {
    const { stdout } = await run('npx', ['publint', '--strict'], { cwd: process.cwd() })
    expect(stdout).not.toMatch(/error|warning/i)
  })
})
