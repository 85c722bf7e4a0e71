import { randomBytes } from 'node:crypto'
import { chmod, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { describe, expect, test, vi } from 'vitest'
import type { SessionRecord } from '../../../src/core/session.js'
import type { StoreSnapshot } from '../../../src/core/store.js'
import { createSessionFetch, OptionError, StoreError } from '../../../src/index.js'
import { fileStore } from '../../../src/stores/file/index.js'
import { defaultDirectory } from '../../../src/stores/file/location.js'
import { tempFolder, testFileStore } from '../../helpers/file-store.js'
import {
  DEMO_USER,
  expectForeignIssuerRefused,
  mockServer,
  recordRequests,
} from '../../helpers/mock-server.js'
import { until } from '../../helpers/redis.js'

const ISSUER = 'https://api.example.test'
const record = (access: string): SessionRecord => ({
  session: { type: 'auth.session', token_type: 'bearer', access_token: access, refresh_token: `r-${access}` },
  receivedAt: 1_000,
  expiresAt: 61_000,
  issuer: ISSUER,
})
const change = (access: string | undefined, writer = 'w') => ({
  record: access === undefined ? undefined : record(access),
  reason: access === undefined ? ('logout' as const) : ('login' as const),
  writer,
})

describe('where the file lives', () => {
  test('$XDG_STATE_HOME when absolute, else the platform’s place for state', () => {
    const home = '/home/ada'
    expect(defaultDirectory({ platform: 'linux', env: { XDG_STATE_HOME: '/xdg/state' }, home })).toBe(
      '/xdg/state/session-fetch',
    )
    expect(defaultDirectory({ platform: 'linux', env: { XDG_STATE_HOME: 'relative' }, home })).toBe(
      '/home/ada/.local/state/session-fetch',
    )
    expect(defaultDirectory({ platform: 'darwin', env: {}, home: '/Users/ada' })).toBe(
      '/Users/ada/Library/Application Support/session-fetch',
    )
    expect(
      defaultDirectory({
        platform: 'win32',
        env: { LOCALAPPDATA: 'C:\\Users\\ada\\AppData\\Local' },
        home: 'C:\\Users\\ada',
      }),
    ).toBe('C:\\Users\\ada\\AppData\\Local\\session-fetch')
    expect(defaultDirectory({ platform: 'win32', env: {}, home: 'C:\\Users\\ada' })).toBe(
      'C:\\Users\\ada\\AppData\\Local\\session-fetch',
    )
  })

  test('`name` picks <name>.json in the default folder; `path` overrides it', async () => {
    const folder = await tempFolder()
    const previous = process.env.XDG_STATE_HOME
    process.env.XDG_STATE_HOME = folder
    try {
      expect(testFileStore({}).path).toBe(join(folder, 'session-fetch', 'default.json'))
      expect(testFileStore({ name: 'work' }).path).toBe(join(folder, 'session-fetch', 'work.json'))
    } finally {
      if (previous === undefined) delete process.env.XDG_STATE_HOME
      else process.env.XDG_STATE_HOME = previous
    }
    expect(testFileStore({ path: join(folder, 'x', 'mine.json') }).path).toBe(join(folder, 'x', 'mine.json'))
  })

  test('bad options name the option', () => {
    expect(() => fileStore({ name: '../etc/passwd' })).toThrow(OptionError)
    expect(() => fileStore({ name: '../etc/passwd' })).toThrow(/name/)
    expect(() => fileStore({ path: '' })).toThrow(/path/)
    expect(() => fileStore({ path: '/a.json', name: 'a' })).toThrow(/either `path` or `name`/)
    expect(() => fileStore({ encryptionKey: new Uint8Array(16) })).toThrow(/encryptionKey.*32 bytes.*16/)
    expect(() => fileStore({ onError: 'no' as never })).toThrow(/onError/)
    expect(() => fileStore({ lockLeaseMs: 50 })).toThrow(/lockLeaseMs.*at least 100 ms, got 50/)
    expect(() => fileStore({ lockLeaseMs: Number.NaN })).toThrow(/lockLeaseMs.*NaN/)
    expect(() => fileStore({ onLockWait: 'no' as never })).toThrow(/onLockWait/)
    expect(() => fileStore({ url: 'x' } as never)).toThrow(OptionError)
  })
})

describe('read and compare-and-set write', () => {
  test('a file that does not exist reads as version 0 with no session, and creates nothing', async () => {
    const folder = await tempFolder()
    const store = testFileStore({ path: join(folder, 's.json') })
    expect(await store.read()).toEqual({
      version: 0,
      record: undefined,
      reason: undefined,
      writer: undefined,
    })
    expect(await readdir(folder)).toEqual([])
  })

  test('of concurrent writers from the same version, in separate stores, exactly one wins', async () => {
    const path = join(await tempFolder(), 's.json')
    const stores = Array.from({ length: 6 }, () => testFileStore({ path }))
    const results = await Promise.all(stores.map((store, i) => store.write(change(`a${i}`, `w${i}`), 0)))
    const winners = results.filter((result) => result !== undefined)
    expect(winners).toHaveLength(1)
    const stored = await stores[0]?.read()
    expect(stored?.version).toBe(winners[0]?.version)
    expect(stored?.record?.session.access_token).toBe(winners[0]?.record?.session.access_token)
    expect(stored?.writer).toBe(winners[0]?.writer)
    expect(await stores[1]?.write(change('late'), 0)).toBeUndefined() // a stale write never lands
    expect((await stores[1]?.read())?.record?.session.access_token).toBe(stored?.record?.session.access_token)
  })

  test('a logout clears the session but keeps counting versions', async () => {
    const store = testFileStore({ path: join(await tempFolder(), 's.json') })
    const first = await store.write(change('a'), 0)
    const cleared = await store.write(change(undefined), first?.version ?? -1)
    expect(cleared).toMatchObject({ record: undefined })
    expect(cleared?.version).toBeGreaterThan(first?.version ?? Number.POSITIVE_INFINITY)
    expect(await store.read()).toMatchObject({
      version: cleared?.version,
      record: undefined,
      reason: 'logout',
    })
    expect(await store.write(change('old'), first?.version ?? -1)).toBeUndefined()
  })

  test('versions are the time of the write: a file deleted and written again is newer than the lost one', async () => {
    const path = join(await tempFolder(), 's.json')
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      const start = Date.UTC(2030, 0, 1)
      vi.setSystemTime(start)
      const running = testFileStore({ path })
      const first = await running.write(change('a'), 0)
      const second = await running.write({ ...change('b'), reason: 'refresh' }, first?.version ?? -1)
      expect(first?.version).toBe(start)
      expect(second?.version).toBe(start + 1) // the same millisecond: one more
      await rm(path)
      vi.setSystemTime(start + 60_000)
      const again = await testFileStore({ path }).write(change('c'), 0)
      expect(again?.version).toBe(start + 60_000)
      expect((await running.read()).version).toBe(start + 60_000)
      // A store that has seen a version writes above it, even with the clock set back an hour.
      await rm(path)
      vi.setSystemTime(start - 3_600_000)
      expect((await running.read()).version).toBe(0)
      expect((await running.write(change('d'), 0))?.version).toBe(start + 60_001)
    } finally {
      vi.useRealTimers()
    }
  })

  test('a record reads back as written; no temporary file is left behind', async () => {
    const folder = await tempFolder()
    const store = testFileStore({ path: join(folder, 's.json') })
    const first = await store.write(change('a'), 0)
    const second = await store.write({ ...change('b'), reason: 'refresh' }, first?.version ?? -1)
    const other = testFileStore({ path: join(folder, 's.json') })
    expect(await other.read()).toEqual({
      version: second?.version,
      record: record('b'),
      reason: 'refresh',
      writer: 'w',
    })
    expect(await readdir(folder)).toEqual(['s.json'])
  })
})

describe('file and folder modes', () => {
  test('the folder is created 0700 and the file 0600', async () => {
    const folder = join(await tempFolder(), 'nested', 'session-fetch')
    const store = testFileStore({ path: join(folder, 's.json') })
    await store.write(change('a'), 0)
    expect((await stat(folder)).mode & 0o777).toBe(0o700)
    expect((await stat(join(folder, 's.json'))).mode & 0o777).toBe(0o600)
  })

  test('a file other users can read or write is refused with a StoreError naming it', async () => {
    const path = join(await tempFolder(), 's.json')
    const store = testFileStore({ path })
    const written = await store.write(change('a'), 0)
    for (const mode of [0o644, 0o620, 0o604]) {
      await chmod(path, mode)
      const error = await store.read().catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StoreError)
      expect((error as Error).message).toContain(path)
      expect((error as Error).message).toMatch(/other users.*chmod 600/)
      await expect(store.write(change('b'), written?.version ?? -1)).rejects.toThrow(StoreError)
    }
    await chmod(path, 0o600)
    expect((await store.read()).version).toBe(written?.version)
  })

  test.each([
    ['0777', 0o777],
    ['1777', 0o1777],
    ['0770', 0o770],
  ])(
    'a folder other users can write to (mode %s, sticky bit or not) is refused, and nothing is created in it',
    async (_, mode) => {
      const folder = join(await tempFolder(), 'open')
      await mkdir(folder)
      await chmod(folder, mode)
      const store = testFileStore({ path: join(folder, 's.json') })
      for (const call of [() => store.read(), () => store.write(change('a'), 0)]) {
        const error = await call().catch((e: unknown) => e)
        expect(error).toBeInstanceOf(StoreError)
        expect((error as Error).message).toContain(`The folder "${folder}"`)
        expect((error as Error).message).toMatch(/can be written by other users.*chmod 700 it/)
      }
      expect(await readdir(folder)).toEqual([])
    },
  )
})

describe('a damaged file', () => {
  const cases: [string, (text: string) => string, RegExp][] = [
    ['truncated', (text) => text.slice(0, Math.floor(text.length / 2)), /not valid JSON/],
    ['empty', () => '', /empty/],
    ['not ours', () => '{"hello":"world"}', /not a session-fetch session file/],
    ['with a bad version', (text) => text.replace(/"version":\d+/, '"version":"1"'), /damaged/],
    [
      'with a record that is not a session',
      (text) => text.replace(/"data":".*"/, '"data":"{}"'),
      /not a session record/,
    ],
  ]
  for (const [what, damage, message] of cases) {
    test(`${what}: a StoreError naming the file, never a SyntaxError, and no request is sent`, async () => {
      const server = await mockServer()
      const path = join(await tempFolder(), 's.json')
      const plantly = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
      await plantly.login(DEMO_USER)
      await writeFile(path, damage(await readFile(path, 'utf8')), { mode: 0o600 })
      const fresh = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
      const error = await fresh.fetch('/buyers').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(StoreError)
      expect((error as Error).message).toContain(path)
      expect((error as Error).message).toMatch(message)
      expect(server.log.filter((entry) => entry.path === '/buyers')).toEqual([])
      plantly.close()
      fresh.close()
    })
  }
})

describe('encryption at rest', () => {
  test('the file holds no token; the same key reads it back', async () => {
    const server = await mockServer()
    const path = join(await tempFolder(), 's.json')
    const encryptionKey = randomBytes(32)
    const plantly = createSessionFetch({ baseURL: server.url, store: testFileStore({ path, encryptionKey }) })
    await plantly.login(DEMO_USER)
    const session = await plantly.getSession()
    const text = await readFile(path, 'utf8')
    for (const token of [session?.access_token, session?.refresh_token]) {
      expect(token).toBeTruthy()
      for (let i = 0; i + 16 <= (token as string).length; i += 16) {
        expect(text).not.toContain((token as string).slice(i, i + 16))
      }
    }
    const again = await testFileStore({ path, encryptionKey }).read()
    expect(again.record?.session.access_token).toBe(session?.access_token)
    plantly.close()
  })

  test('a wrong key, a missing key, or a plain file read with a key is a StoreError', async () => {
    const folder = await tempFolder()
    const sealed = join(folder, 'sealed.json')
    await testFileStore({ path: sealed, encryptionKey: randomBytes(32) }).write(change('a'), 0)
    await expect(testFileStore({ path: sealed, encryptionKey: randomBytes(32) }).read()).rejects.toThrow(
      /could not be decrypted/,
    )
    await expect(testFileStore({ path: sealed }).read()).rejects.toThrow(/is encrypted.*fileStore\(\)/)
    const plain = join(folder, 'plain.json')
    await testFileStore({ path: plain }).write(change('a'), 0)
    await expect(testFileStore({ path: plain, encryptionKey: randomBytes(32) }).read()).rejects.toThrow(
      StoreError,
    )
  })
})

describe('lock', () => {
  const lease = { leaseMs: 10_000 }

  test('excludes holders across store instances, and hands each a lease end', async () => {
    const path = join(await tempFolder(), 's.json')
    const stores = Array.from({ length: 5 }, () => testFileStore({ path }))
    let inside = 0
    let most = 0
    const grants: (number | undefined)[] = []
    await Promise.all(
      stores.map((store) =>
        store.lock(async (grant) => {
          grants.push(grant?.until)
          most = Math.max(most, ++inside)
          await new Promise((resolve) => setTimeout(resolve, 20))
          inside--
        }, lease),
      ),
    )
    expect(most).toBe(1)
    expect(grants.every((until) => typeof until === 'number' && until > Date.now())).toBe(true)
    expect(await readdir(join(path, '..'))).toEqual([]) // every lock file is gone
  })

  test('a lock left by a process that no longer exists is taken over at once', async () => {
    const path = join(await tempFolder(), 's.json')
    const dead = { owner: 'dead', pid: 2 ** 22 + 12_345, host: hostname(), until: Date.now() + 3_600_000 }
    await writeFile(`${path}.lock`, JSON.stringify(dead), { mode: 0o600 })
    expect(await testFileStore({ path }).lock(async () => 'taken', lease)).toBe('taken')
  })

  test('a lock file that is not a lock record is judged by its age; a break lock left by a dead process goes too', async () => {
    const path = join(await tempFolder(), 's.json')
    const longAgo = new Date(Date.now() - 60_000)
    await writeFile(`${path}.lock`, 'garbage', { mode: 0o600 })
    await writeFile(`${path}.lock.break`, '1', { mode: 0o600 })
    await utimes(`${path}.lock`, longAgo, longAgo)
    await utimes(`${path}.lock.break`, longAgo, longAgo)
    expect(await testFileStore({ path }).lock(async () => 'taken', lease)).toBe('taken')
    expect(await readdir(join(path, '..'))).toEqual([])

    // A fresh foreign file is left alone until its age passes the lease.
    await writeFile(`${path}.lock`, 'garbage', { mode: 0o600 })
    const controller = new AbortController()
    const waiting = testFileStore({ path }).lock(async () => 'never', { ...lease, signal: controller.signal })
    await new Promise((resolve) => setTimeout(resolve, 50))
    controller.abort(new Error('stop'))
    await expect(waiting).rejects.toThrow('stop')
    expect(await readFile(`${path}.lock`, 'utf8')).toBe('garbage')
  })

  test('a live holder’s lock is taken over once its lease ends; its late release leaves the successor’s lock', async () => {
    const path = join(await tempFolder(), 's.json')
    const [first, second] = [testFileStore({ path }), testFileStore({ path })]
    let releaseFirst = () => {}
    const firstDone = first.lock(() => new Promise<void>((resolve) => (releaseFirst = resolve)), {
      leaseMs: 200,
    })
    await until(async () => (await readdir(join(path, '..'))).includes('s.json.lock'), 'the first lock')
    let secondHolds = false
    let releaseSecond = () => {}
    const secondDone = second.lock(
      () =>
        new Promise<void>((resolve) => {
          secondHolds = true
          releaseSecond = resolve
        }),
      lease,
    )
    await until(() => secondHolds, 'the second holder to take over after the lease')
    const successor = await readFile(`${path}.lock`, 'utf8')
    releaseFirst()
    await firstDone
    expect(await readFile(`${path}.lock`, 'utf8')).toBe(successor)
    releaseSecond()
    await secondDone
  })

  test('a throwing holder releases the lock and its error reaches the caller; a waiter can abort', async () => {
    const path = join(await tempFolder(), 's.json')
    const store = testFileStore({ path })
    const boom = new Error('boom')
    await expect(store.lock(() => Promise.reject(boom), lease)).rejects.toBe(boom)
    let release: (() => void) | undefined
    const held = store.lock(() => new Promise<void>((resolve) => (release = resolve)), lease)
    // The holder runs (not only its lock file exists): releasing before it runs would leave it holding forever.
    await until(() => release !== undefined, 'the holder to run')
    expect(await readdir(join(path, '..'))).toContain('s.json.lock')
    const controller = new AbortController()
    const waiting = testFileStore({ path }).lock(async () => 'never', { ...lease, signal: controller.signal })
    const reason = new Error('stop waiting')
    controller.abort(reason)
    await expect(waiting).rejects.toBe(reason)
    release?.()
    await held
  })
})

describe('subscribe', () => {
  test('delivers other stores’ writes, read from the file; unsubscribe stops them', async () => {
    const path = join(await tempFolder(), 's.json')
    const writer = testFileStore({ path })
    const watcher = testFileStore({ path })
    const seen: StoreSnapshot[] = []
    const stop = watcher.subscribe((snapshot) => seen.push(snapshot))
    const login = await writer.write(change('a'), 0)
    await until(() => seen.some((s) => s.version === login?.version), 'the login to be seen')
    const logout = await writer.write(change(undefined), login?.version ?? -1)
    await until(() => seen.some((s) => s.version === logout?.version), 'the logout to be seen')
    expect(seen.at(-1)).toMatchObject({ version: logout?.version, record: undefined, reason: 'logout' })
    stop()
    const count = seen.length
    const again = await writer.write(change('b'), logout?.version ?? -1)
    const third = testFileStore({ path })
    const after: StoreSnapshot[] = []
    third.subscribe((snapshot) => after.push(snapshot))
    await until(() => after.some((s) => s.version === again?.version), 'a live subscriber to see the write')
    expect(seen.length).toBe(count)
  })
})

describe('sessions shared through one file', () => {
  test('two clients on two stores of one file: one refresh after the expiry, and a logout reaches the other', async () => {
    const server = await mockServer({ refreshLatencyMs: 200 })
    const path = join(await tempFolder(), 's.json')
    const a = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
    const b = createSessionFetch({ baseURL: server.url, store: testFileStore({ path }) })
    const bEvents: string[] = []
    b.on('refresh', ({ source }) => bEvents.push(`refresh:${source}`))
    b.on('logout', ({ source }) => bEvents.push(`logout:${source}`))
    await a.login(DEMO_USER)
    expect((await b.fetch('/before')).status).toBe(200)
    server.mock.expireAccessTokens()
    const statuses = await Promise.all(
      [a, b].flatMap((client) => Array.from({ length: 5 }, (_, i) => client.fetch(`/after/${i}`))),
    )
    expect(statuses.map((response) => response.status)).toEqual(Array(10).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    await a.logout()
    await until(() => bEvents.includes('logout:store'), 'b to hear of the logout')
    expect(await b.getSession()).toBeUndefined()
    a.close()
    b.close()
  })

  test('one store object serves one issuer: a client of another API given it is refused when created', async () => {
    const server = await mockServer()
    const store = testFileStore({ path: join(await tempFolder(), 's.json') })
    createSessionFetch({ baseURL: server.url, store }).close()
    expect(() => createSessionFetch({ baseURL: 'https://other.example.test', store })).toThrow(OptionError)
  })

  test.each([
    ['in clear', undefined],
    ['sealed with encryptionKey', randomBytes(32)],
  ])(
    'one file, two issuers, %s: the second never sends, refreshes, logs out or overwrites the first’s session',
    async (_, encryptionKey) => {
      const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
      const atB = recordRequests(serverB)
      const path = join(await tempFolder(), 's.json')
      const options = encryptionKey ? { path, encryptionKey } : { path }
      const a = createSessionFetch({ baseURL: serverA.url, store: testFileStore(options) })
      // Another program of another API, configured with the same file by mistake; with credentials it would log
      // in unattended and write over A's session if it got that far.
      const b = createSessionFetch({
        baseURL: serverB.url,
        store: testFileStore(options),
        credentials: () => DEMO_USER,
      })
      expect(await b.getSession()).toBeUndefined() // B loaded the empty file first, and watches it
      const sessionA = await a.login(DEMO_USER)
      const before = await readFile(path, 'utf8')

      await expectForeignIssuerRefused(b, serverA, serverB, atB, sessionA)
      expect(await readFile(path, 'utf8')).toBe(before)
      expect((await a.fetch('/buyers')).status).toBe(200)
      expect(serverA.log.at(-1)).toMatchObject({ token: sessionA.access_token })
      a.close()
      b.close()
    },
  )
})
