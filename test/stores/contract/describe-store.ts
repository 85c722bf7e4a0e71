// The contract every SessionStore meets (src/core/store.ts, docs/design.md#stores), stated once as clauses and run
// for every store: `describeStore(subject)` registers one test per clause the store's capabilities call for.
// test/stores/contract/mutants.test.ts breaks a store in one way per clause and checks that the clause fails.
import { describe, expect, test } from 'vitest'
import {
  type LockGrant,
  OptionError,
  type SessionRecord,
  type SessionStore,
  type StoreChange,
  type StoreSnapshot,
} from '../../../src/index.js'

/** A store object as the suite uses it: a `SessionStore`, and `close()` where the store has one. */
export type StoreInstance = SessionStore & { close?(): void | Promise<void> }

/** One storage (a file, a Redis key, an IndexedDB record, a `memoryStore()`), fresh and empty for one test. */
export interface SharedStorage {
  /**
   * Another instance on this storage, as another process, tab or client would have it: a new store object for
   * the file, Redis and browser stores; the same object for `memoryStore()`, which is shared by being passed
   * around (see its TSDoc).
   */
  open(): StoreInstance
  /**
   * Lose what is stored, the way the storage can lose it while instances run (the file deleted, the key evicted
   * or lost in a restart, the origin's data cleared). Absent when nothing outside the store object holds the
   * session (`memoryStore()`).
   */
  lose?(): Promise<void>
  /** Called after the test, once every instance opened on it is closed. */
  dispose?(): void | Promise<void>
}

/**
 * What a store offers beyond `read` and `write`, each as its documentation states it. A capability declared
 * absent is checked to be absent, so a flag can skip a clause only for a store that lacks the member altogether.
 */
export interface StoreCapabilities {
  /**
   * The refresh lock:
   * - `'lease'`: shared by every instance; a holder gets a `LockGrant`, and once its `until` has passed the
   *   others may take the lock over even if it never lets go (the file and browser stores);
   * - `'renewed'`: shared by every instance; no grant, the lease is renewed while the holder runs, and only a
   *   holder that stopped (died, froze) is taken over once its lease ends (the Redis store's watchdog);
   * - `'realm'`: shared by the instances of one realm, which a holder cannot outlive: no lease, each caller's own
   *   timeout bounds how long it holds (`memoryStore()`);
   * - `'none'`: no `lock` (each instance refreshes under its own queue).
   */
  lock: 'lease' | 'renewed' | 'realm' | 'none'
  /** `subscribe(listener)`: other instances' writes are delivered. */
  subscribe: boolean
  /** `close()`: stops the deliveries to this instance's listeners. */
  close: boolean
  /** `bind(issuer)`: a store object serves one issuer. */
  bind: boolean
  /** The storage can lose the data while instances run, and `SharedStorage.lose()` does it. */
  lose: boolean
}

/** A store the suite runs for. */
export interface StoreSubject {
  /** Shown in the suite's title. */
  readonly name: string
  /** A fresh, empty storage for one test. */
  storage(): SharedStorage | Promise<SharedStorage>
  readonly capabilities: StoreCapabilities
  /**
   * How far a record's times may move on the way through the store, in ms: the Redis store keeps them in Redis'
   * clock and translates them back with an offset it measured (its `now` option).
   * @default 0
   */
  readonly timeToleranceMs?: number
  /** The bound after which a wait counts as a hang (a hang detector, not a timing assertion). @default 10_000 */
  readonly hangMs?: number
}

/** One thing a store must do: `run` rejects when the store does not. */
export interface Clause {
  /** A short name, for the mutants that break this clause. */
  readonly id: string
  readonly title: string
  readonly applies: (capabilities: StoreCapabilities) => boolean
  readonly run: (subject: StoreSubject) => Promise<void>
}

const ISSUER = 'https://api.contract.test'
const OTHER_ISSUER = 'https://other.contract.test'
// Fixed times well away from now: a store that drops or garbles them cannot pass for one that keeps them.
const RECEIVED_AT = 1_767_225_600_000 // 2026-01-01T00:00:00Z

/** A session record as a login or refresh obtains it; `issuer` null: one written before records had issuers. */
export function contractRecord(token: string, issuer: string | null = ISSUER): SessionRecord {
  return Object.freeze({
    session: Object.freeze({
      type: 'auth.session',
      token_type: 'bearer',
      access_token: `access-${token}`,
      refresh_token: `refresh-${token}`,
      expires_in: 900,
    }),
    receivedAt: RECEIVED_AT,
    expiresAt: RECEIVED_AT + 900_000,
    ...(issuer === null ? {} : { issuer }),
  })
}

function change(token: string | undefined, reason: StoreChange['reason'], writer: string): StoreChange {
  return { record: token === undefined ? undefined : contractRecord(token), reason, writer }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `promise`, or a rejection naming `what` once `ms` have passed (a hang detector). */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang: ${what} (nothing after ${ms} ms)`)), ms)
  })
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer))
}

/** Poll `check` until it holds; reject naming `what` after `ms`. */
async function eventually(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`hang: ${what} (not after ${ms} ms)`)
    await sleep(5)
  }
}

/** A promise and the functions that settle it. */
function settleable<T = void>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

/** Run `body` on a fresh storage; every instance it opened is closed afterwards, then the storage disposed. */
async function withStorage(
  subject: StoreSubject,
  body: (storage: SharedStorage, hangMs: number) => Promise<void>,
): Promise<void> {
  const storage = await subject.storage()
  const opened = new Set<StoreInstance>()
  const tracked: SharedStorage = {
    ...storage,
    open() {
      const store = storage.open()
      opened.add(store)
      return store
    },
  }
  try {
    await body(tracked, subject.hangMs ?? 10_000)
  } finally {
    await Promise.allSettled([...opened].map((store) => store.close?.()))
    await storage.dispose?.()
  }
}

/** `store.lock`, which the clauses that use it only run for stores that declare one. */
function lockOf(store: StoreInstance): NonNullable<SessionStore['lock']> {
  if (typeof store.lock !== 'function') throw new Error('the store declares a lock but has no lock()')
  return store.lock.bind(store)
}

function subscribeOf(store: StoreInstance): NonNullable<SessionStore['subscribe']> {
  if (typeof store.subscribe !== 'function') throw new Error('the store declares subscribe but has none')
  return store.subscribe.bind(store)
}

/** Expect `read` to be what `written` was, the record's times within the subject's tolerance. */
function expectSame(read: StoreSnapshot, written: StoreSnapshot, toleranceMs: number): void {
  expect(read.version).toBe(written.version)
  expect(read.reason).toBe(written.reason)
  expect(read.writer).toBe(written.writer)
  if (!written.record) {
    expect(read.record).toBeUndefined()
    return
  }
  const { record } = read
  expect(record?.session).toEqual(written.record.session)
  expect(record?.issuer).toBe(written.record.issuer)
  expect(Math.abs((record?.receivedAt ?? Number.NaN) - written.record.receivedAt)).toBeLessThanOrEqual(
    toleranceMs,
  )
  if (written.record.expiresAt === undefined) expect(record?.expiresAt).toBeUndefined()
  else {
    expect(Math.abs((record?.expiresAt ?? Number.NaN) - written.record.expiresAt)).toBeLessThanOrEqual(
      toleranceMs,
    )
  }
}

async function written(promise: StoreSnapshot | undefined | Promise<StoreSnapshot | undefined>) {
  const snapshot = await promise
  if (!snapshot) throw new Error('the write was refused, although nobody else had written')
  return snapshot
}

const always = () => true

/** The clauses, in the order the contract states them. */
export const clauses: readonly Clause[] = [
  {
    id: 'read',
    title: 'read(): a fresh store answers version 0 and no session, in every instance',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        for (const store of [storage.open(), storage.open()]) {
          const snapshot = await store.read()
          expect(snapshot.version).toBe(0)
          expect(snapshot.record).toBeUndefined()
        }
      }),
  },
  {
    id: 'round-trip',
    title:
      'write(): answers the new snapshot, and every instance reads it back as written (record, reason, writer)',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const [a, b] = [storage.open(), storage.open()]
        const sent = change('one', 'login', 'writer-a')
        const answer = await written(a.write(sent, 0))
        expect(answer.version).toBeGreaterThan(0)
        expectSame(answer, { version: answer.version, ...sent }, 0)
        for (const reader of [a, b, storage.open()]) {
          expectSame(await reader.read(), answer, subject.timeToleranceMs ?? 0)
        }
      }),
  },
  {
    id: 'issuer',
    title: 'write(): the issuer is kept with the record (and a record without one reads back without one)',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const [a, b] = [storage.open(), storage.open()]
        let version = 0
        for (const issuer of [ISSUER, OTHER_ISSUER, null]) {
          const sent = { record: contractRecord('issuer', issuer), reason: 'login', writer: 'a' } as const
          version = (await written(a.write(sent, version))).version
          const read = await b.read()
          expect(read.record?.session.access_token).toBe('access-issuer')
          expect(read.record?.issuer).toBe(issuer ?? undefined)
        }
      }),
  },
  {
    id: 'compare-and-set',
    title:
      'write(): compare-and-set: a write from a version that is no longer current answers undefined and changes nothing',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const [a, b] = [storage.open(), storage.open()]
        const first = await written(a.write(change('a1', 'login', 'a'), 0))
        // b still believes the store is empty: its write must not land.
        expect(await b.write(change('b1', 'login', 'b'), 0)).toBeUndefined()
        // Nor one from a version the store never had.
        expect(await b.write(change('b2', 'login', 'b'), first.version + 1_000)).toBeUndefined()
        for (const reader of [a, b]) {
          expectSame(await reader.read(), first, subject.timeToleranceMs ?? 0)
        }
        // From the current version, it lands.
        const second = await written(b.write(change('b3', 'refresh', 'b'), first.version))
        expect((await a.read()).record?.session.access_token).toBe('access-b3')
        expect(second.version).toBeGreaterThan(first.version)
      }),
  },
  {
    id: 'one-winner',
    title:
      'write(): of concurrent writers from one version exactly one wins, and the store holds the winner’s',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const stores = Array.from({ length: 6 }, () => storage.open())
        let version = 0
        for (const round of [1, 2, 3]) {
          const answers = await Promise.all(
            stores.map((store, i) => store.write(change(`r${round}w${i}`, 'refresh', `w${i}`), version)),
          )
          const winners = answers.flatMap((answer, i) => (answer ? [{ answer, i }] : []))
          expect(winners).toHaveLength(1)
          const [{ answer, i }] = winners as [{ answer: StoreSnapshot; i: number }]
          expect(answer.version).toBeGreaterThan(version)
          const stored = await (stores[(i + 1) % stores.length] as StoreInstance).read()
          expect(stored.version).toBe(answer.version)
          expect(stored.writer).toBe(`w${i}`)
          expect(stored.record?.session.access_token).toBe(`access-r${round}w${i}`)
          version = answer.version
        }
      }),
  },
  {
    id: 'versions-logout',
    title:
      'versions only grow, across a logout too: a writer from before the logout cannot bring its session back',
    applies: always,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const [a, b] = [storage.open(), storage.open()]
        const login = await written(a.write(change('login', 'login', 'a'), 0))
        const refresh = await written(a.write(change('refresh', 'refresh', 'a'), login.version))
        expect(refresh.version).toBeGreaterThan(login.version)
        const logout = await written(b.write(change(undefined, 'logout', 'b'), refresh.version))
        expect(logout.version).toBeGreaterThan(refresh.version)
        const after = await a.read()
        expect(after).toMatchObject({ version: logout.version, record: undefined, reason: 'logout' })
        // Whoever still holds the session from before the logout: its writes are refused.
        expect(await a.write(change('stale', 'refresh', 'a'), refresh.version)).toBeUndefined()
        expect(await a.write(change('stale', 'login', 'a'), 0)).toBeUndefined()
        expect((await b.read()).record).toBeUndefined()
        const again = await written(a.write(change('again', 'login', 'a'), logout.version))
        expect(again.version).toBeGreaterThan(logout.version)
      }),
  },
  {
    id: 'versions-loss',
    title:
      'versions only grow across the loss of the data: the next login is above every version before it, and subscribers hear it',
    applies: (c) => c.lose,
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        if (!storage.lose) throw new Error('the storage has no lose(): this clause is not for it')
        const [running, other] = [storage.open(), storage.open()]
        const heard: StoreSnapshot[] = []
        if (subject.capabilities.subscribe) subscribeOf(running)((snapshot) => heard.push(snapshot))
        const login = await written(running.write(change('before', 'login', 'running'), 0))
        const before = await written(running.write(change('before2', 'refresh', 'running'), login.version))
        expect((await other.read()).version).toBe(before.version)

        await storage.lose()
        // Versions may come from a clock (the file and Redis stores take them from one: nothing else survives the
        // loss), so the clock is let past the writes before the loss, as a loss and a new login always are.
        await sleep(20)
        const fresh = storage.open()
        expect(await fresh.read()).toMatchObject({ version: 0, record: undefined })
        const next = await written(fresh.write(change('after', 'login', 'fresh'), 0))
        expect(next.version).toBeGreaterThan(before.version)
        expect((await other.read()).version).toBe(next.version)
        if (subject.capabilities.subscribe) {
          await eventually(
            () => heard.some((s) => s.version === next.version),
            hangMs,
            'the running instance to hear the login after the loss',
          )
          const logout = await written(fresh.write(change(undefined, 'logout', 'fresh'), next.version))
          await eventually(
            () => heard.some((s) => s.version === logout.version && s.record === undefined),
            hangMs,
            'the running instance to hear the logout after the loss',
          )
        }
      }),
  },
  {
    id: 'lock-exclusion',
    title: 'lock(): one holder at a time across instances; each caller gets its own function’s result',
    applies: (c) => c.lock !== 'none',
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const stores = Array.from({ length: 5 }, () => storage.open())
        let inside = 0
        let most = 0
        const ran: number[] = []
        const results = await within(
          Promise.all(
            stores.map((store, i) =>
              lockOf(store)(
                async () => {
                  inside++
                  most = Math.max(most, inside)
                  await sleep(15)
                  ran.push(i)
                  inside--
                  return `result ${i}`
                },
                { leaseMs: 60_000 },
              ),
            ),
          ),
          hangMs * 2,
          'five holders in turn',
        )
        expect(most).toBe(1)
        expect([...ran].sort()).toEqual([0, 1, 2, 3, 4])
        expect(results).toEqual(stores.map((_, i) => `result ${i}`))
      }),
  },
  {
    id: 'lock-throw',
    title: 'lock(): a holder that throws lets go, and its caller gets the error unchanged',
    applies: (c) => c.lock !== 'none',
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [a, b] = [storage.open(), storage.open()]
        const boom = new Error('the holder failed')
        await expect(
          lockOf(a)(
            async () => {
              throw boom
            },
            { leaseMs: 60_000 },
          ),
        ).rejects.toBe(boom)
        expect(
          await within(
            lockOf(b)(async () => 'next', { leaseMs: 60_000 }),
            hangMs,
            'the next holder after a throwing one',
          ),
        ).toBe('next')
      }),
  },
  {
    id: 'lock-abort',
    title:
      'lock(): a waiter whose signal aborts stops waiting with the signal’s reason and never runs; the holder is untouched',
    applies: (c) => c.lock !== 'none',
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [holder, waiter, next] = [storage.open(), storage.open(), storage.open()]
        const held = settleable()
        const holding = settleable()
        let released = false
        const first = lockOf(holder)(
          async () => {
            holding.resolve()
            await held.promise
            released = true
            return 'holder'
          },
          { leaseMs: 60_000 },
        )
        await within(holding.promise, hangMs, 'the first holder')
        const controller = new AbortController()
        let waiterRan = false
        const waiting = lockOf(waiter)(
          async () => {
            waiterRan = true
          },
          { leaseMs: 60_000, signal: controller.signal },
        )
        waiting.catch(() => {})
        await sleep(50) // the waiter is waiting now
        const reason = new Error('gave up waiting')
        controller.abort(reason)
        // It rejects while the holder still holds: it stopped waiting.
        await expect(within(waiting, hangMs, 'the aborted waiter to reject')).rejects.toBe(reason)
        expect(released).toBe(false)
        // A signal aborted before the call: rejected at once, nothing run.
        await expect(
          within(
            lockOf(waiter)(
              async () => {
                waiterRan = true
              },
              { leaseMs: 60_000, signal: AbortSignal.abort(reason) },
            ),
            hangMs,
            'a lock() with an aborted signal to reject',
          ),
        ).rejects.toBe(reason)
        // The holder still excludes the others, and ends as it would have.
        let nextRanWhileHeld = false
        const after = lockOf(next)(
          async () => {
            nextRanWhileHeld = !released
            return 'next'
          },
          { leaseMs: 60_000 },
        )
        await sleep(50)
        held.resolve()
        expect(await within(first, hangMs, 'the holder to finish')).toBe('holder')
        expect(await within(after, hangMs, 'the next holder')).toBe('next')
        expect(nextRanWhileHeld).toBe(false)
        expect(waiterRan).toBe(false)
      }),
  },
  {
    id: 'lock-lease',
    title:
      'lock(): a holder is told when its lease ends (LockGrant.until); once that has passed, another instance takes the lock over although the holder never let go',
    applies: (c) => c.lock === 'lease',
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [a, b] = [storage.open(), storage.open()]
        const leaseMs = 400
        const stuck = settleable()
        const granted = settleable<LockGrant | undefined>()
        const asked = Date.now()
        const first = lockOf(a)(
          async (grant) => {
            granted.resolve(grant)
            await stuck.promise // never lets go within its lease
            return 'late'
          },
          { leaseMs },
        )
        const grant = await within(granted.promise, hangMs, 'the first holder')
        const grantedAt = Date.now()
        expect(grant).toBeDefined()
        expect(typeof grant?.until).toBe('number')
        const until = grant?.until as number
        expect(until).toBeGreaterThanOrEqual(asked)
        expect(until).toBeLessThanOrEqual(grantedAt + leaseMs)

        const second = settleable<{ at: number; grant: LockGrant | undefined }>()
        const taking = lockOf(b)(
          async (grant) => {
            second.resolve({ at: Date.now(), grant })
            return 'took over'
          },
          { leaseMs },
        )
        const over = await within(second.promise, hangMs, 'another instance to take over after the lease')
        // Timers may fire a few ms early against Date.now(); a takeover before the lease ended would be far earlier.
        expect(over.at).toBeGreaterThanOrEqual(until - 10)
        expect(over.grant?.until).toBeGreaterThan(until)
        expect(await taking).toBe('took over')
        stuck.resolve()
        expect(await within(first, hangMs, 'the late holder’s result')).toBe('late')
      }),
  },
  {
    id: 'lock-renewed',
    title: 'lock(): a holder that runs past its lease keeps the lock (the lease is renewed while it runs)',
    applies: (c) => c.lock === 'renewed',
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [a, b] = [storage.open(), storage.open()]
        const leaseMs = 150
        const holding = settleable()
        let aDone = false
        let bRanBeforeA = false
        const first = lockOf(a)(
          async () => {
            holding.resolve()
            await sleep(leaseMs * 4)
            aDone = true
            return 'slow'
          },
          { leaseMs },
        )
        await within(holding.promise, hangMs, 'the first holder')
        const second = lockOf(b)(
          async () => {
            bRanBeforeA = !aDone
            return 'after'
          },
          { leaseMs },
        )
        expect(await within(first, hangMs, 'the slow holder')).toBe('slow')
        expect(await within(second, hangMs, 'the next holder')).toBe('after')
        expect(bRanBeforeA).toBe(false)
      }),
  },
  {
    id: 'subscribe',
    title:
      'subscribe(): other instances’ writes are delivered in version order, as written, the last one always; unsubscribing stops them',
    applies: (c) => c.subscribe,
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [writer, listener] = [storage.open(), storage.open()]
        const heard: StoreSnapshot[] = []
        const control: StoreSnapshot[] = []
        const stop = subscribeOf(listener)((snapshot) => heard.push(snapshot))
        subscribeOf(listener)((snapshot) => control.push(snapshot))
        const sent: StoreSnapshot[] = []
        let version = 0
        for (const [token, reason] of [
          ['s1', 'login'],
          ['s2', 'refresh'],
          [undefined, 'logout'],
        ] as const) {
          const answer = await written(writer.write(change(token, reason, 'writer'), version))
          sent.push(answer)
          version = answer.version
        }
        const last = sent.at(-1) as StoreSnapshot
        await eventually(
          () => heard.some((s) => s.version === last.version),
          hangMs,
          'the subscriber to hear the last write',
        )
        stop()
        const count = heard.length
        const after = await written(writer.write(change('s4', 'login', 'writer'), version))
        sent.push(after)
        await eventually(
          () => control.some((s) => s.version === after.version),
          hangMs,
          'the listener still subscribed to hear the next write',
        )
        await sleep(50) // a delivery still on its way, out of order, would land now
        expect(heard).toHaveLength(count)
        expect(heard.at(-1)).toMatchObject({ version: last.version, record: undefined, reason: 'logout' })
        expect(control.at(-1)?.version).toBe(after.version)
        // Each delivery is a state the store held, in version order, never going back: a store may read the
        // latest and skip what it replaced, announce the state it held when the listener came, or deliver a
        // version twice (read when the subscription starts, and announced) - a client takes no version twice.
        for (const deliveries of [heard, control]) {
          const versions = deliveries.map((s) => s.version)
          expect(versions).toEqual([...versions].sort((x, y) => x - y))
          for (const snapshot of deliveries) {
            const match = sent.find((s) => s.version === snapshot.version)
            if (match) expectSame(snapshot, match, subject.timeToleranceMs ?? 0)
            else expect(snapshot).toMatchObject({ version: 0, record: undefined })
          }
        }
      }),
  },
  {
    id: 'close',
    title:
      'close(): stops the deliveries to the closed instance’s listeners, and a second close() is harmless',
    applies: (c) => c.close && c.subscribe,
    run: (subject) =>
      withStorage(subject, async (storage, hangMs) => {
        const [writer, closing, staying] = [storage.open(), storage.open(), storage.open()]
        if (typeof closing.close !== 'function') throw new Error('the store declares close() but has none')
        const heard: StoreSnapshot[] = []
        const control: StoreSnapshot[] = []
        subscribeOf(closing)((snapshot) => heard.push(snapshot))
        subscribeOf(staying)((snapshot) => control.push(snapshot))
        const first = await written(writer.write(change('c1', 'login', 'writer'), 0))
        await eventually(
          () =>
            heard.some((s) => s.version === first.version) &&
            control.some((s) => s.version === first.version),
          hangMs,
          'both listeners to hear the first write',
        )
        await closing.close()
        await closing.close()
        const count = heard.length
        const second = await written(writer.write(change('c2', 'refresh', 'writer'), first.version))
        await eventually(
          () => control.some((s) => s.version === second.version),
          hangMs,
          'the open instance to hear the next write',
        )
        await sleep(50) // a late delivery to the closed one would come with the other's
        expect(heard).toHaveLength(count)
      }),
  },
  {
    id: 'bind',
    title:
      'bind(): a store object serves one issuer: bound again to it, fine; to another, an OptionError naming `store`',
    applies: (c) => c.bind,
    run: (subject) =>
      withStorage(subject, async (storage) => {
        const store = storage.open()
        if (typeof store.bind !== 'function') throw new Error('the store declares bind() but has none')
        store.bind(ISSUER)
        store.bind(ISSUER)
        let refused: unknown
        try {
          store.bind(OTHER_ISSUER)
        } catch (error) {
          refused = error
        }
        expect(refused).toBeInstanceOf(OptionError)
        expect(refused).toMatchObject({ option: 'store' })
      }),
  },
]

/** The members a capability declared absent must indeed lack. */
function absent(capabilities: StoreCapabilities): (keyof StoreInstance)[] {
  return [
    ...(capabilities.lock === 'none' ? (['lock'] as const) : []),
    ...(capabilities.subscribe ? [] : (['subscribe'] as const)),
    ...(capabilities.close ? [] : (['close'] as const)),
    ...(capabilities.bind ? [] : (['bind'] as const)),
  ]
}

/**
 * Register the store contract's tests for `subject`: one per clause its capabilities call for, plus a check that
 * what it declares absent is absent.
 */
export function describeStore(subject: StoreSubject): void {
  describe(`the SessionStore contract: ${subject.name}`, () => {
    for (const clause of clauses) {
      if (!clause.applies(subject.capabilities)) continue
      test(clause.title, () => clause.run(subject), 4 * (subject.hangMs ?? 10_000))
    }
    const missing = absent(subject.capabilities)
    const lacks = [...missing, ...(subject.capabilities.lose ? [] : ['lose()'])]
    if (lacks.length > 0) {
      test(`what it declares it lacks, it lacks: ${lacks.join(', ')}`, async () => {
        await withStorage(subject, async (storage) => {
          const store = storage.open()
          for (const member of missing) expect(store[member]).toBeUndefined()
          if (!subject.capabilities.lose) expect(storage.lose).toBeUndefined()
        })
      })
    }
  })
}
