// Every clause of the store contract can fail: a small store that meets the whole contract passes every clause
// (run below as any store is), and each mutant of it, broken in one way, fails the clause that forbids it.
import { describe, expect, test } from 'vitest'
import {
  type LockGrant,
  type LockOptions,
  OptionError,
  type StoreChange,
  type StoreSnapshot,
} from '../../../src/index.js'
import {
  clauses,
  describeStore,
  type SharedStorage,
  type StoreCapabilities,
  type StoreInstance,
  type StoreSubject,
} from './describe-store.js'

type Fault =
  | 'a fresh store reads version 1'
  | 'the reason is not kept'
  | 'the issuer is not kept'
  | 'write ignores expectedVersion'
  | 'compare-and-set is not atomic'
  | 'a logout deletes the version'
  | 'versions restart after a loss'
  | 'lock runs every caller at once'
  | 'a throwing holder keeps the lock'
  | 'a waiter ignores its signal'
  | 'the holder gets no grant'
  | 'a live holder is never taken over'
  | 'a holder is taken over before its lease ends'
  | 'the lease is not renewed'
  | 'changes are delivered out of order'
  | 'unsubscribe does nothing'
  | 'close() keeps the listeners'
  | 'bind() accepts any issuer'

interface Stored {
  version: number
  record: StoreSnapshot['record']
  reason: StoreChange['reason']
  writer: string
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A storage shared by in-memory instances that meets the whole contract, unless `fault` breaks one part. */
function referenceStorage(lease: 'lease' | 'renewed', fault?: Fault): SharedStorage {
  let stored: Stored | undefined
  let holder: { until: number } | undefined
  let disposed = false
  let deliveries = 0
  const instances = new Set<Set<(snapshot: StoreSnapshot) => void>>()

  const snapshot = (): StoreSnapshot =>
    stored ? { ...stored } : { version: fault === 'a fresh store reads version 1' ? 1 : 0, record: undefined }

  function deliver(next: StoreSnapshot): void {
    // Delivered after the write returns, in order (or, for the mutant, the first three in reverse).
    const delay = fault === 'changes are delivered out of order' ? Math.max(0, 40 - 15 * deliveries++) : 0
    setTimeout(() => {
      for (const listeners of instances) for (const listener of listeners) listener(next)
    }, delay)
  }

  function keep(change: StoreChange, version: number): StoreSnapshot {
    let record = change.record
    if (record && fault === 'the issuer is not kept') record = { ...record, issuer: undefined }
    const reason = fault === 'the reason is not kept' ? 'refresh' : change.reason
    stored = { version, record, reason, writer: change.writer }
    if (!record && fault === 'a logout deletes the version') stored = undefined
    const next = snapshot()
    deliver(next)
    return { ...next, version }
  }

  /** Wait until the lock is free (or its holder's lease has ended), and take it in the same turn. */
  async function take(signal: AbortSignal | undefined, mine: { until: number }): Promise<void> {
    for (;;) {
      if (signal?.aborted && fault !== 'a waiter ignores its signal') throw signal.reason
      if (disposed) await new Promise<never>(() => {}) // the test is over: wait no more
      const live = holder && (fault === 'a live holder is never taken over' || Date.now() < holder.until)
      if (!live || fault === 'lock runs every caller at once') {
        holder = mine
        return
      }
      await sleep(5)
    }
  }

  return {
    open(): StoreInstance {
      const listeners = new Set<(snapshot: StoreSnapshot) => void>()
      instances.add(listeners)
      let boundTo: string | undefined
      return {
        read: async () => snapshot(),
        async write(change, expectedVersion) {
          if (fault === 'write ignores expectedVersion') expectedVersion = snapshot().version
          if (snapshot().version !== expectedVersion) return undefined
          if (fault === 'compare-and-set is not atomic') await sleep(1)
          const version =
            fault === 'versions restart after a loss'
              ? expectedVersion + 1
              : Math.max(expectedVersion + 1, Date.now())
          return keep(change, version)
        },
        async lock<T>(fn: (grant?: LockGrant) => Promise<T>, options: LockOptions): Promise<T> {
          const renewed = lease === 'renewed' && fault !== 'the lease is not renewed'
          const early = fault === 'a holder is taken over before its lease ends' ? options.leaseMs / 2 : 0
          const mine = { until: Number.POSITIVE_INFINITY }
          await take(options.signal, mine)
          mine.until = renewed ? Number.POSITIVE_INFINITY : Date.now() + options.leaseMs - early
          const grant = { until: mine.until + early }
          const release = () => {
            if (holder === mine) holder = undefined
          }
          try {
            const result = await (lease === 'lease' && fault !== 'the holder gets no grant'
              ? fn(grant)
              : fn())
            release()
            return result
          } catch (error) {
            if (fault !== 'a throwing holder keeps the lock') release()
            throw error
          }
        },
        subscribe(listener) {
          listeners.add(listener)
          return () => {
            if (fault !== 'unsubscribe does nothing') listeners.delete(listener)
          }
        },
        close() {
          if (fault !== 'close() keeps the listeners') listeners.clear()
        },
        bind(issuer) {
          if (boundTo !== undefined && boundTo !== issuer && fault !== 'bind() accepts any issuer') {
            throw new OptionError('store', `this store serves ${boundTo}, not ${issuer}`)
          }
          boundTo = issuer
        },
      }
    },
    async lose() {
      stored = undefined
    },
    dispose() {
      disposed = true
    },
  }
}

const capabilities = (lock: 'lease' | 'renewed'): StoreCapabilities => ({
  lock,
  subscribe: true,
  close: true,
  bind: true,
  lose: true,
})

function reference(lock: 'lease' | 'renewed', fault?: Fault): StoreSubject {
  return {
    name: `the reference store (${lock} lock)${fault ? `, mutated: ${fault}` : ''}`,
    storage: () => referenceStorage(lock, fault),
    capabilities: capabilities(lock),
    hangMs: 1_000,
  }
}

// The unmutated store passes every clause, so a mutant's failure is its mutation's.
describeStore(reference('lease'))
describeStore(reference('renewed'))

const mutants: [Fault, clause: string, lock: 'lease' | 'renewed'][] = [
  ['a fresh store reads version 1', 'read', 'lease'],
  ['the reason is not kept', 'round-trip', 'lease'],
  ['the issuer is not kept', 'issuer', 'lease'],
  ['write ignores expectedVersion', 'compare-and-set', 'lease'],
  ['compare-and-set is not atomic', 'one-winner', 'lease'],
  ['a logout deletes the version', 'versions-logout', 'lease'],
  ['versions restart after a loss', 'versions-loss', 'lease'],
  ['lock runs every caller at once', 'lock-exclusion', 'lease'],
  ['a throwing holder keeps the lock', 'lock-throw', 'lease'],
  ['a waiter ignores its signal', 'lock-abort', 'lease'],
  ['the holder gets no grant', 'lock-lease', 'lease'],
  ['a live holder is never taken over', 'lock-lease', 'lease'],
  ['a holder is taken over before its lease ends', 'lock-lease', 'lease'],
  ['the lease is not renewed', 'lock-renewed', 'renewed'],
  ['changes are delivered out of order', 'subscribe', 'lease'],
  ['unsubscribe does nothing', 'subscribe', 'lease'],
  ['close() keeps the listeners', 'close', 'lease'],
  ['bind() accepts any issuer', 'bind', 'lease'],
]

describe('each clause fails for a store that breaks it', () => {
  test('every clause has a mutant here', () => {
    expect(new Set(mutants.map(([, id]) => id))).toEqual(new Set(clauses.map((clause) => clause.id)))
  })

  test.each(mutants)('%s: the %s clause fails', async (fault, id, lock) => {
    const clause = clauses.find((candidate) => candidate.id === id)
    if (!clause) throw new Error(`no clause ${id}`)
    await expect(clause.run(reference(lock, fault))).rejects.toThrow()
  })
})
