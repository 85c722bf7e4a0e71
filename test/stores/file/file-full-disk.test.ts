import { readdir, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { createSessionFetch, RefreshError } from '../../../src/index.js'
import type { MockServer } from '../../../src/testing/mock/index.js'
import { testFileStore } from '../../helpers/file-store.js'
import { DEMO_USER, mockServer } from '../../helpers/mock-server.js'
import { until } from '../../helpers/redis.js'
import { fillUp, remount, smallFilesystem } from '../../helpers/tmpfs.js'
import { startWorkers } from '../../helpers/workers.js'

// A real, small file system (a 64 KiB tmpfs the test mounts: root, as in CI) that fills up or turns read-only
// around a refresh, with real processes sharing the file and the mock's rotation and reuse detection on: the
// tokens a refresh obtained are never lost, and no spent refresh token is presented.

/** Run `during` once the server has processed a refresh (rotated the tokens), before it answers. */
function onRefresh(server: MockServer, during: () => Promise<unknown>): void {
  const handle = server.mock.handle.bind(server.mock)
  let done = false
  server.mock.handle = async (request) => {
    const reply = await handle(request)
    if (request.method === 'PUT' && !done) {
      done = true
      await during()
    }
    return reply
  }
}

const fingerprintOf = async (path: string) =>
  (await testFileStore({ path }).read()).record?.session.access_token

describe('a full disk loses nothing', () => {
  test('full before the refresh: nothing is sent, no file is left behind; once there is room, one refresh and the session lives on', async () => {
    const folder = await smallFilesystem()
    const path = join(folder, 's.json')
    const server = await mockServer()
    const plantly = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
    await plantly.login(DEMO_USER)
    const filler = await fillUp(folder)

    server.mock.expireAccessTokens()
    const error = await plantly.fetch('/full').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RefreshError)
    expect((error as Error).message).toMatch(/ENOSPC/)
    expect(server.counters.refreshes).toBe(0) // the refresh token was not spent
    expect((await readdir(folder)).sort()).toEqual(['filler', 's.json'])

    await unlink(filler)
    expect((await plantly.fetch('/room')).status).toBe(200)
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
    expect(await fingerprintOf(path)).toBe((await plantly.getSession())?.access_token)
    expect(await readdir(folder)).toEqual(['s.json'])
    plantly.close()
  })

  test('full while the refresh is on its way: its room was made before it was sent, so the new session is written; the others use it (0 reuse)', async () => {
    const folder = await smallFilesystem()
    const path = join(folder, 's.json')
    const server = await mockServer()
    let filler = ''
    onRefresh(server, async () => {
      filler = await fillUp(folder)
    })
    const [refresher, other] = await startWorkers(2, { baseURL: server.url, file: path })
    if (!refresher || !other) throw new Error('workers did not start')
    await refresher.call('login')
    await other.call('session')

    server.mock.expireAccessTokens()
    expect(await refresher.call('fetch', { path: '/while-full' })).toBe(200)
    expect(filler).not.toBe('')
    const refreshed = await refresher.call('session')
    expect(refresher.errors).toEqual([])
    // In the file, for every process, although the disk is full; no temporary file left.
    expect((await readdir(folder)).sort()).toEqual(['filler', 's.json'])
    await until(async () => (await other.call('session')) === refreshed, 'the other process to adopt it')
    expect(await other.call('fetch', { path: '/other' })).toBe(200)
    await unlink(filler)
    // A third process, started afterwards, reads it from the file.
    const [late] = await startWorkers(1, { baseURL: server.url, file: path })
    expect(await late?.call('fetch', { path: '/late' })).toBe(200)
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0, logins: 1 })
    await Promise.all([refresher, other, late].map((worker) => worker?.call('exit')))
  }, 120_000)

  test('full, and the new tokens larger than the room made for them: kept in the process, written once there is room; meanwhile the others wait for them (0 reuse)', async () => {
    const folder = await smallFilesystem(256) // the next refresh holds room for twice the 32 KiB file
    const path = join(folder, 's.json')
    const server = await mockServer({ tokenFormat: 'opaque' })
    // Tokens of 16 000 characters each: the file grows from about 1 KiB to 32 KiB, past the 8 KiB held for it.
    server.inject({
      on: 'refresh',
      body: (session: Record<string, unknown>) => ({
        ...session,
        access_token: `${'a'.repeat(16_000)}1`,
        refresh_token: `${'r'.repeat(16_000)}1`,
      }),
    })
    let filler = ''
    onRefresh(server, async () => {
      filler = await fillUp(folder)
    })
    const [refresher, other] = await startWorkers(2, { baseURL: server.url, file: path })
    if (!refresher || !other) throw new Error('workers did not start')
    await refresher.call('login')
    const loggedIn = await other.call('session')

    server.mock.expireAccessTokens()
    expect(await refresher.call('fetch', { path: '/while-full' })).toBe(200)
    const refreshed = await refresher.call('session')
    expect(refresher.errors).toEqual([
      expect.stringMatching(/Could not write the new session to the session file .*ENOSPC/),
    ])
    expect(await fingerprintOf(path)).not.toBe(refreshed)
    expect(await other.call('session')).toBe(loggedIn)

    // Room again, before the next try (250 ms × 2ⁿ after the last): the other process's refresh waits for the
    // lock the refresher kept, then finds the new session in the file instead of presenting the spent token.
    await unlink(filler)
    expect(await other.call('fetch', { path: '/other' })).toBe(200)
    expect(await other.call('session')).toBe(refreshed)
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
    expect(await readdir(folder)).toEqual(['s.json'])
    await Promise.all([refresher, other].map((worker) => worker.call('exit')))
  }, 120_000)

  test('read-only while the refresh is on its way: the process keeps the new session, tells onError, writes it once it can; the others send nothing meanwhile, then wait for it (0 reuse)', async () => {
    const folder = await smallFilesystem()
    const path = join(folder, 's.json')
    const server = await mockServer()
    onRefresh(server, () => remount(folder, 'ro'))
    const [refresher, other] = await startWorkers(2, { baseURL: server.url, file: path })
    if (!refresher || !other) throw new Error('workers did not start')
    await refresher.call('login')
    const loggedIn = await other.call('session')

    server.mock.expireAccessTokens()
    expect(await refresher.call('fetch', { path: '/while-read-only' })).toBe(200)
    const refreshed = await refresher.call('session')
    expect(refreshed).not.toBe(loggedIn)
    expect(refresher.errors).toEqual([
      expect.stringMatching(/Could not write the new session to the session file .*EROFS/),
    ])
    // This process goes on with it: no second refresh.
    expect(await refresher.call('fetch', { path: '/kept' })).toBe(200)
    // The others cannot refresh meanwhile (no lock on a read-only disk): nothing is sent.
    const refused = await other.call('fetch', { path: '/other-read-only' }).catch((error: Error) => error)
    expect(refused).toMatchObject({ name: 'RefreshError' })

    await remount(folder, 'rw')
    // Writable again, most likely before the kept session is written (the next try is 250 ms × 2ⁿ after the
    // last): the other's refresh waits for the lock the refresher kept, then finds the new session in the file
    // instead of presenting the refresh token that was spent.
    expect(await other.call('fetch', { path: '/other-after' })).toBe(200)
    expect(await other.call('session')).toBe(refreshed)
    expect(await fingerprintOf(path)).toBeDefined()
    expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
    await until(
      async () => (await readdir(folder)).join() === 's.json',
      'every temporary and lock file to go',
    )
    await Promise.all([refresher, other].map((worker) => worker.call('exit')))
  }, 120_000)
})
