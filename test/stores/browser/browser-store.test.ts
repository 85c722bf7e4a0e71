// The browser store's logic in Node: fake-indexeddb stands in for IndexedDB, Node's own BroadcastChannel carries
// the announcements between store objects, and inTabLocks() plays the origin's lock manager. The behaviour across
// real tabs is proven in Chromium (test/stores/browser/browser-tabs.test.ts).
import { IDBFactory } from 'fake-indexeddb'
import { createStore, get, set } from 'idb-keyval'
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest'
import { toRecord } from '../../../src/core/session-record.js'
import { createSessionFetch, OptionError, type StoreSnapshot } from '../../../src/index.js'
import {
  type BrowserStore,
  type BrowserStoreOptions,
  browserStore,
} from '../../../src/stores/browser/index.js'
import { inTabLocks, withWebLock } from '../../../src/stores/browser/web-lock.js'
import { PlantlyMock } from '../../../src/testing/mock/index.js'
import {
  DEMO_USER,
  expectForeignIssuerRefused,
  mockServer,
  recordRequests,
} from '../../helpers/mock-server.js'

const opened: BrowserStore[] = []

function tab(options: BrowserStoreOptions = {}): BrowserStore {
  const store = browserStore({ key: 'test', ...options })
  opened.push(store)
  return store
}

function record(token: string) {
  return toRecord({ session: { type: 'auth.session', token_type: 'bearer', access_token: token } }, 1_000)
}

function change(token: string | undefined, writer = 'w') {
  return { record: token === undefined ? undefined : record(token), reason: 'refresh', writer } as const
}

/** The version a write answered; throws when it was refused. */
async function version(written: Promise<StoreSnapshot | undefined> | StoreSnapshot | undefined) {
  const snapshot = await written
  if (!snapshot) throw new Error('the write was refused')
  return snapshot.version
}

/** Resolves with the next snapshot a store announces to its subscribers. */
function nextAnnouncement(store: BrowserStore): Promise<StoreSnapshot> {
  return new Promise((resolve) => {
    const stop = store.subscribe?.((snapshot) => {
      stop?.()
      resolve(snapshot)
    })
  })
}

beforeEach(() => {
  vi.stubGlobal('indexedDB', new IDBFactory()) // a fresh origin for every test
})

afterEach(() => {
  for (const store of opened.splice(0)) store.close()
  vi.unstubAllGlobals()
  vi.useRealTimers()
})

describe('browserStore: IndexedDB compare-and-set', () => {
  test('an empty store reads version 0; a write is seen by another tab', async () => {
    const locks = inTabLocks()
    const a = tab({ locks })
    const b = tab({ locks })
    expect(a.coordination).toEqual({ storage: 'indexeddb', lock: 'web-locks', notify: 'broadcast-channel' })
    expect(await a.read()).toEqual({ version: 0, record: undefined })

    const written = await a.write(change('access-1', 'tab-a'), 0)
    expect(written).toMatchObject({ reason: 'refresh', writer: 'tab-a' })
    expect(written?.version).toBeGreaterThan(0)
    const seen = await b.read()
    expect(seen.version).toBe(written?.version)
    expect(seen.record?.session.access_token).toBe('access-1')
    expect(seen.record).toEqual(record('access-1'))
    expect(Object.isFrozen(seen.record?.session)).toBe(true)
  })

  test('a write against an older version is refused and changes nothing', async () => {
    const a = tab()
    const b = tab()
    const first = await version(a.write(change('access-1'), 0))
    const second = await version(a.write(change('access-2'), first))
    expect(await b.write(change('stale'), first)).toBeUndefined()
    expect(await b.write(change('older'), 0)).toBeUndefined()
    const now = await b.read()
    expect(now.version).toBe(second)
    expect(now.record?.session.access_token).toBe('access-2')
  })

  test('concurrent writers from many tabs: exactly one wins each version, no update is lost', async () => {
    const tabs = [tab(), tab(), tab()]
    const race = await Promise.all(tabs.map((t, i) => t.write(change(`first-${i}`), 0)))
    expect(race.filter(Boolean)).toHaveLength(1)

    // Each tab updates 20 times by read-then-compare-and-set, retrying on conflict, all at once.
    const wins: [from: number, to: number][] = []
    let conflicts = 0
    const update = async (t: BrowserStore) => {
      for (;;) {
        const current = await t.read()
        const written = await t.write(change(`after-${current.version}`), current.version)
        if (written) {
          wins.push([current.version, written.version])
          return
        }
        conflicts++
      }
    }
    await Promise.all(
      tabs.map(async (t) => {
        for (let i = 0; i < 20; i++) await update(t)
      }),
    )
    // No update is lost: the 60 wins form one chain from the race's winner, each over the one before it.
    wins.sort(([x], [y]) => x - y)
    expect(wins[0]?.[0]).toBe(race.find(Boolean)?.version)
    for (const [i, [, to]] of wins.entries()) if (i + 1 < wins.length) expect(wins[i + 1]?.[0]).toBe(to)
    const last = await (tabs[0] as BrowserStore).read()
    expect(last.version).toBe(wins.at(-1)?.[1])
    expect(last.record?.session.access_token).toBe(`after-${wins.at(-1)?.[0]}`)
    expect(conflicts).toBeGreaterThan(0) // the writers did collide, and the compare-and-set sorted them out
  })

  test('a logout (no record) is stored and read back as no session', async () => {
    const a = tab()
    const first = await version(a.write(change('access-1'), 0))
    const out = await a.write({ record: undefined, reason: 'logout', writer: 'w' }, first)
    expect(out).toMatchObject({ record: undefined, reason: 'logout' })
    expect(await tab().read()).toMatchObject({ version: out?.version, record: undefined, reason: 'logout' })
  })

  test('whatever else is stored under the key is read as no session, never trusted', async () => {
    const raw = createStore('session-fetch', 'sessions')
    await set('test', 'not a snapshot', raw)
    const a = tab()
    expect(await a.read()).toEqual({ version: 0, record: undefined })
    expect(await a.write(change('access-1'), 0)).toMatchObject({ record: record('access-1') })

    await set(
      'test',
      { version: 7, record: { session: { access_token: 'has a space' }, receivedAt: 1 } },
      raw,
    )
    expect(await a.read()).toMatchObject({ version: 7, record: undefined })
    await set('test', { version: -1, record: record('x') }, raw)
    expect(await a.read()).toEqual({ version: 0, record: undefined })
  })
})

describe('browserStore: the issuer of a session', () => {
  const issuer = 'plantly:https://api.plantly.test/auth/sessions'

  test('is kept with the record in IndexedDB and in the announcement to other tabs', async () => {
    const a = tab()
    const b = tab()
    const toB = nextAnnouncement(b)
    const labelled = toRecord(
      { session: { type: 'auth.session', token_type: 'bearer', access_token: 'access-1' } },
      1_000,
      issuer,
    )
    await a.write({ record: labelled, reason: 'login', writer: 'tab-a' }, 0)
    expect((await toB).record?.issuer).toBe(issuer)
    expect((await tab().read()).record).toEqual(labelled)
  })

  test('a record without one reads back without one; one that is not a string reads as no session', async () => {
    const raw = createStore('session-fetch', 'sessions')
    await set('test', { version: 3, record: record('old') }, raw)
    const read = await tab().read()
    expect(read.record?.session.access_token).toBe('old')
    expect(read.record?.issuer).toBeUndefined()
    await set('test', { version: 4, record: { ...record('odd'), issuer: 42 } }, raw)
    expect(await tab().read()).toMatchObject({ version: 4, record: undefined })
  })
})

describe('browserStore: announcements', () => {
  test('other store objects (other tabs) are told of a write over BroadcastChannel; so is this one', async () => {
    const a = tab()
    const b = tab()
    const toB = nextAnnouncement(b)
    const toA = nextAnnouncement(a)
    const written = await version(a.write(change('access-1', 'tab-a'), 0))
    expect(await toA).toMatchObject({ version: written, writer: 'tab-a' })
    const heard = await toB
    expect(heard).toMatchObject({ version: written, reason: 'refresh', writer: 'tab-a' })
    expect(heard.record?.session.access_token).toBe('access-1')
  })

  test('a message carries no token: a script of the origin listening on the channel hears a version, not the session', async () => {
    const a = tab()
    const b = tab()
    const listener = new BroadcastChannel('session-fetch:test')
    const messages: unknown[] = []
    listener.onmessage = (event) => messages.push(event.data)
    const toB = nextAnnouncement(b)
    const written = await version(a.write(change('access-secret-1', 'tab-a'), 0))
    expect((await toB).record?.session.access_token).toBe('access-secret-1') // read from IndexedDB
    await vi.waitFor(() => expect(messages).toHaveLength(1))
    expect(messages[0]).toEqual({
      type: 'session-fetch/notice',
      notice: { version: written, reason: 'refresh', writer: 'tab-a' },
      session: true,
    })
    expect(JSON.stringify(messages)).not.toContain('access-secret-1')
    listener.close()
  })

  test('changes reach the other tabs in order, a logout included, when newer ones are stored before they read', async () => {
    const a = tab()
    const b = tab()
    const heard: StoreSnapshot[] = []
    b.subscribe?.((snapshot) => heard.push(snapshot))
    // Written before b hears the first notice: reading IndexedDB for it finds the third version already.
    const first = await version(a.write(change('access-1', 'tab-a'), 0))
    const logout = await version(a.write({ record: undefined, reason: 'logout', writer: 'tab-a' }, first))
    const login = await version(
      a.write({ record: record('access-2'), reason: 'login', writer: 'tab-a' }, logout),
    )
    await vi.waitFor(() => expect(heard.map((snapshot) => snapshot.version)).toContain(login))
    await new Promise((resolve) => setTimeout(resolve, 50)) // anything still on its way
    // Each version once, in order (a client takes no version below one it has: a logout heard after the login
    // that followed it would be lost); the first one may be skipped, as a newer one was there to be read.
    const versions = heard.map((snapshot) => snapshot.version)
    expect(versions.filter((heardVersion) => heardVersion > first)).toEqual([logout, login])
    expect(versions).toEqual([...versions].sort((x, y) => x - y))
    expect(heard.find((snapshot) => snapshot.version === logout)).toMatchObject({
      reason: 'logout',
      record: undefined,
    })
    expect(heard.find((snapshot) => snapshot.version === login)?.record?.session.access_token).toBe(
      'access-2',
    )
  })

  test('messages that are not ours are ignored; close() stops listening', async () => {
    const a = tab()
    const heard: StoreSnapshot[] = []
    a.subscribe?.((snapshot) => heard.push(snapshot))
    const other = new BroadcastChannel('session-fetch:test')
    other.postMessage({ type: 'something-else', notice: { version: 5 } })
    other.postMessage({ type: 'session-fetch/notice', notice: 'garbage' })
    // What an earlier version announced (the whole snapshot) is not a notice: it would need no re-read.
    other.postMessage({ type: 'session-fetch/changed', snapshot: { version: 4, record: record('r') } })
    other.postMessage({ type: 'session-fetch/notice', notice: { version: 3, reason: 'logout' } })
    await vi.waitFor(() => expect(heard).toHaveLength(1))
    expect(heard[0]).toMatchObject({ version: 3, reason: 'logout', record: undefined })
    a.close()
    other.postMessage({ type: 'session-fetch/notice', notice: { version: 4, reason: 'logout' } })
    const control = tab()
    const controlHeard = nextAnnouncement(control)
    other.postMessage({ type: 'session-fetch/notice', notice: { version: 5, reason: 'logout' } })
    await controlHeard // a later message has been delivered, so the closed store had its chance
    expect(heard).toHaveLength(1)
    other.close()
  })

  test('unsubscribe stops one listener', async () => {
    const a = tab()
    const heard: number[] = []
    const stop = a.subscribe?.((s) => heard.push(s.version))
    const first = await version(a.write(change('access-1'), 0))
    stop?.()
    await a.write(change('access-2'), first)
    expect(heard).toEqual([first])
  })
})

describe('browserStore: the refresh lock', () => {
  test('uses the lock manager under session-fetch:<key>:refresh, one holder at a time', async () => {
    const origin = inTabLocks()
    const names: string[] = []
    const recording = {
      request: (...args: Parameters<typeof origin.request>) => {
        names.push(args[0])
        return origin.request(...args)
      },
    }
    const a = tab({ locks: recording })
    const b = tab({ locks: recording })
    const order: string[] = []
    let releaseA = () => {}
    const first = a.lock?.(
      () =>
        new Promise<string>((resolve) => {
          order.push('a holds')
          releaseA = () => resolve('a')
        }),
      { leaseMs: 60_000 },
    )
    const second = b.lock?.(
      async () => {
        order.push('b holds')
        return 'b'
      },
      { leaseMs: 60_000 },
    )
    await vi.waitFor(() => expect(order).toEqual(['a holds']))
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(order).toEqual(['a holds']) // b waits while a holds
    releaseA()
    expect(await first).toBe('a')
    expect(await second).toBe('b')
    expect(order).toEqual(['a holds', 'b holds'])
    expect(names).toEqual(['session-fetch:test:refresh', 'session-fetch:test:refresh'])
  })

  test('a holder that never settles lets go after the lease; its own result still arrives', async () => {
    vi.useFakeTimers()
    const locks = inTabLocks()
    let finishStuck = (_: string) => {}
    const stuck = withWebLock(locks, 'l', () => new Promise<string>((r) => (finishStuck = r)), {
      leaseMs: 5_000,
    })
    let nextRan = false
    const next = withWebLock(
      locks,
      'l',
      async () => {
        nextRan = true
        return 'next'
      },
      { leaseMs: 5_000 },
    )
    await vi.advanceTimersByTimeAsync(4_999)
    expect(nextRan).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await next).toBe('next')
    finishStuck('late')
    expect(await stuck).toBe('late')
  })

  test('a waiter whose signal aborts rejects with its reason, never runs, and does not block the next', async () => {
    const locks = inTabLocks()
    let release = () => {}
    const holder = withWebLock(locks, 'l', () => new Promise<void>((r) => (release = r)), { leaseMs: 60_000 })
    const controller = new AbortController()
    let abortedRan = false
    const aborted = withWebLock(
      locks,
      'l',
      async () => {
        abortedRan = true
      },
      { leaseMs: 60_000, signal: controller.signal },
    )
    const after = withWebLock(locks, 'l', async () => 'after', { leaseMs: 60_000 })
    const reason = new Error('gave up')
    controller.abort(reason)
    await expect(aborted).rejects.toBe(reason)
    release()
    await holder
    expect(await after).toBe('after')
    expect(abortedRan).toBe(false)
    await expect(
      withWebLock(locks, 'l', async () => 1, { leaseMs: 1, signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason)
  })

  test('a waiter that was last in line and left does not let the next one past the holder', async () => {
    const locks = inTabLocks()
    let release = () => {}
    let holding = true
    const holder = withWebLock(locks, 'l', () => new Promise<void>((r) => (release = r)), { leaseMs: 60_000 })
    const controller = new AbortController()
    const left = withWebLock(locks, 'l', async () => 'ran', { leaseMs: 60_000, signal: controller.signal })
    controller.abort(new Error('gave up'))
    await expect(left).rejects.toThrow('gave up')
    const next = withWebLock(locks, 'l', async () => (holding ? 'ran while held' : 'next'), {
      leaseMs: 60_000,
    })
    await new Promise((resolve) => setTimeout(resolve, 20)) // time for it to run, were the lock free
    holding = false
    release()
    await holder
    expect(await next).toBe('next')
  })

  test("a callback that throws releases the lock and rejects with the callback's error", async () => {
    const locks = inTabLocks()
    const boom = new Error('boom')
    await expect(
      withWebLock(
        locks,
        'l',
        async () => {
          throw boom
        },
        { leaseMs: 60_000 },
      ),
    ).rejects.toBe(boom)
    expect(await withWebLock(locks, 'l', async () => 'free', { leaseMs: 60_000 })).toBe('free')
  })
})

describe('browserStore under createSessionFetch', () => {
  test('two tabs (one store object each) make one refresh for a storm, and share a logout', async () => {
    const server = await mockServer({ refreshLatencyMs: 100 })
    const origin = inTabLocks() // the origin's lock manager, as navigator.locks is
    const a = createSessionFetch({ baseURL: server.url, store: tab({ locks: origin }) })
    const b = createSessionFetch({ baseURL: server.url, store: tab({ locks: origin }) })
    const heardByB: string[] = []
    b.on('refresh', ({ source }) => heardByB.push(`refresh:${source}`))
    b.on('logout', ({ source }) => heardByB.push(`logout:${source}`))
    await a.login(DEMO_USER)
    expect((await b.getSession())?.access_token).toBe((await a.getSession())?.access_token)

    server.mock.expireAccessTokens()
    const storm = (t: typeof a, label: string) =>
      Array.from({ length: 25 }, (_, i) => t.fetch(`/buyers/${label}-${i}`).then((r) => r.status))
    const statuses = await Promise.all([...storm(a, 'a'), ...storm(b, 'b')])
    expect(statuses).toEqual(Array(50).fill(200))
    expect(server.counters.refreshes).toBe(1)
    expect(server.counters.reuseDetected).toBe(0)
    expect(a.stats().refreshes + b.stats().refreshes).toBe(1)

    await a.logout()
    await vi.waitFor(() => expect(heardByB).toContain('logout:store'))
    expect((await b.fetch('/buyers/after')).status).toBe(401)
    expect(server.log.at(-1)).toMatchObject({ path: '/buyers/after', token: undefined })
    a.close()
    b.close()
  })
})

describe('browserStore: two apps of one origin on the same key (two issuers)', () => {
  test('the second never sends, refreshes, logs out or overwrites the first’s session: its calls reject', async () => {
    const [serverA, serverB] = await Promise.all([mockServer(), mockServer()])
    const atB = recordRequests(serverB)
    const origin = inTabLocks()
    const a = createSessionFetch({ baseURL: serverA.url, store: tab({ locks: origin }) })
    const b = createSessionFetch({
      baseURL: serverB.url,
      store: tab({ locks: origin }),
      credentials: () => DEMO_USER,
    })
    expect(await b.getSession()).toBeUndefined() // B's tab loaded first and listens on the BroadcastChannel
    const sessionA = await a.login(DEMO_USER)
    const raw = createStore('session-fetch', 'sessions')
    const before = await get('test', raw)

    await expectForeignIssuerRefused(b, serverA, serverB, atB, sessionA)
    expect(await get('test', raw)).toEqual(before)
    expect((await a.fetch('/buyers')).status).toBe(200)
    a.close()
    b.close()
  })

  test('one store object given to clients of two APIs: the second is refused when it is created', () => {
    const shared = tab()
    vi.stubGlobal('indexedDB', undefined)
    const inTab = tab()
    expect(inTab.coordination.storage).toBe('memory')
    for (const store of [shared, inTab]) {
      createSessionFetch({ baseURL: 'https://api-a.test', store })
      expect(() => createSessionFetch({ baseURL: 'https://api-b.test', store })).toThrow(OptionError)
      expect(() => createSessionFetch({ baseURL: 'https://api-a.test/', store })).not.toThrow()
    }
  })

  test('a session an earlier version left in IndexedDB (no issuer) is never sent; a login replaces it', async () => {
    const server = await mockServer()
    const received = recordRequests(server)
    const legacy = await new PlantlyMock().issueSession()
    const raw = createStore('session-fetch', 'sessions')
    await set(
      'test',
      { version: 4, record: { session: legacy, receivedAt: Date.now() }, reason: 'login' },
      raw,
    )

    const plantly = createSessionFetch({ baseURL: server.url, store: tab(), credentials: () => DEMO_USER })
    expect((await plantly.fetch('/buyers')).status).toBe(200)
    expect(received.filter((r) => r.authorization?.includes(legacy.access_token))).toEqual([])
    expect(received.filter((r) => r.authorization?.includes(legacy.refresh_token))).toEqual([])
    expect(server.counters.logins).toBe(1)
    const stored = await tab().read()
    expect(stored).toMatchObject({ record: { issuer: `plantly:${server.url}/auth/sessions` } })
    expect(stored.version).toBeGreaterThan(4)
    plantly.close()
  })
})

describe('browserStore: fallbacks and options', () => {
  test('without IndexedDB the session stays in this tab (memory), with an in-tab lock', async () => {
    vi.stubGlobal('indexedDB', undefined)
    const a = tab()
    const b = tab()
    expect(a.coordination).toEqual({ storage: 'memory', lock: 'tab', notify: 'none' })
    expect(await a.write(change('access-1'), 0)).toMatchObject({ version: 1 })
    expect(await a.write(change('stale'), 0)).toBeUndefined()
    expect((await b.read()).version).toBe(0) // another tab keeps its own session
    expect(await a.lock?.(async () => 'held', { leaseMs: 1_000 })).toBe('held')
  })

  test('without BroadcastChannel other tabs are not told, but read the new session', async () => {
    vi.stubGlobal('BroadcastChannel', undefined)
    const a = tab()
    const b = tab()
    expect(b.coordination.notify).toBe('none')
    const heard: StoreSnapshot[] = []
    b.subscribe?.((s) => heard.push(s))
    await a.write(change('access-1'), 0)
    expect((await b.read()).record?.session.access_token).toBe('access-1')
    expect(heard).toEqual([])
  })

  test('without navigator.locks (or with locks: null) the lock is in-tab', () => {
    expect(tab().coordination.lock).toBe('tab') // Node 20 has no navigator.locks
    vi.stubGlobal('navigator', { locks: inTabLocks() })
    expect(tab().coordination.lock).toBe('web-locks')
    expect(tab({ locks: null }).coordination.lock).toBe('tab')
  })

  test('the deprecated tabLocks export is still the in-tab manager that locks: null uses', async () => {
    const { tabLocks } = await import('../../../src/stores/browser/index.js')
    expect(tabLocks).toBe(inTabLocks)
    const order: string[] = []
    const locks = tabLocks()
    await Promise.all([
      locks.request('k', {}, async () => void order.push('first')),
      locks.request('k', {}, async () => void order.push('second')),
    ])
    expect(order).toEqual(['first', 'second'])
  })

  test('bad options are refused with an error naming them', () => {
    expect(() => browserStore({ key: '' })).toThrow(OptionError)
    expect(() => browserStore({ key: '' })).toThrow(/`key`/)
    expect(() => browserStore({ key: 42 as unknown as string })).toThrow(/`key`.*got 42/)
    expect(() => browserStore({ locks: {} as never })).toThrow(/`locks`/)
    expect(() => browserStore('x' as never)).toThrow(/`options`/)
  })
})
