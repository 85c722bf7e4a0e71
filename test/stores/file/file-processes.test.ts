import { readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
import { tempFolder, testFileStore } from '../../helpers/file-store.js'
import { mockServer } from '../../helpers/mock-server.js'
import { startWorkers } from '../../helpers/workers.js'
import { describeStoreAcrossProcesses } from '../contract/describe-store-processes.js'

// Real OS processes share one session through a file: the store contract's cross-process scenarios, then what
// is the file store's own (lock files forged or left by another host).
describeStoreAcrossProcesses({
  name: 'fileStore()',
  async storage() {
    const file = join(await tempFolder('processes'), 'session.json')
    return {
      where: { file },
      async lock() {
        const text = await readFile(`${file}.lock`, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined
          throw error
        })
        if (text === undefined) return undefined
        const record = JSON.parse(text) as { pid: number; until: number }
        return { holder: text, pid: record.pid, remainingMs: record.until - Date.now() }
      },
      read: () => testFileStore({ path: file }).read(),
      lose: () => rm(file),
    }
  },
  // A holder of this host that died is taken over at once: its lock file names its pid (docs/file.md).
  deadHolder: 'at once',
})

describe('processes sharing one session in a file: lock files it did not write', () => {
  // A lock file whose lease end lies a year ahead: forged, written by a holder on another host, or by one whose
  // clock has since been set back. Every wait ends after the longest lease the store grants (lockLeaseMs).
  const YEAR_MS = 365 * 24 * 3_600_000
  const forged: [string, string, (path: string) => Promise<void>][] = [
    [
      'a holder on another host',
      '.lock',
      (lock) =>
        writeLock(lock, { owner: 'far', pid: 1, host: 'elsewhere.example', until: Date.now() + YEAR_MS }),
    ],
    [
      'a live process of this host, its clock set back a year',
      '.lock',
      (lock) =>
        writeLock(lock, { owner: 'back', pid: process.pid, host: hostname(), until: Date.now() + YEAR_MS }),
    ],
    [
      'a file that is no lock record, dated a year ahead',
      '.lock',
      async (lock) => {
        await writeFile(lock, 'not a record', { mode: 0o600 })
        const ahead = new Date(Date.now() + YEAR_MS)
        await utimes(lock, ahead, ahead)
      },
    ],
    [
      'the write lock, a holder on another host',
      '.write.lock',
      (lock) =>
        writeLock(lock, { owner: 'far', pid: 1, host: 'elsewhere.example', until: Date.now() + YEAR_MS }),
    ],
  ]
  test.each(forged)(
    'a lock file with its lease end a year ahead (%s) holds a refresh up for the longest lease at most',
    async (what, suffix, plant) => {
      const server = await mockServer()
      const file = join(await tempFolder(), 'session.json')
      // The lease the store grants (and so the longest wait for a refresh lock) is 1.5 s here; the write lock's
      // is 10 s.
      const [worker] = await startWorkers(1, {
        baseURL: server.url,
        file,
        lockLeaseMs: 1_500,
        refreshTimeoutMs: 500,
      })
      if (!worker) throw new Error('the worker did not start')
      await worker.call('login')
      await plant(`${file}${suffix}`)

      server.mock.expireAccessTokens()
      const started = performance.now()
      expect(await worker.call('fetch', { path: '/after-the-wait' })).toBe(200)
      console.info(
        `forged lock (${what}): the refresh went ahead after ${Math.round(performance.now() - started)} ms`,
      )
      expect(server.counters).toMatchObject({ refreshes: 1, reuseDetected: 0, refreshRejected: 0 })
      expect(await readdir(join(file, '..'))).toEqual(['session.json']) // the stale lock went, and its own
      await worker.call('exit')
    },
    60_000,
  )
})

async function writeLock(path: string, record: object): Promise<void> {
  await writeFile(path, JSON.stringify(record), { mode: 0o600 })
}
