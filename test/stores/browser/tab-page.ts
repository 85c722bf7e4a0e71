// The page every Chromium tab of test/stores/browser/browser-tabs.test.ts runs, bundled for the browser by esbuild. It shares
// one session through browserStore() and exposes what the test drives and inspects as `window.tab`.

import { createSessionFetch, type SessionEventName } from '../../../src/index.js'
import { browserStore } from '../../../src/stores/browser/index.js'

const params = new URLSearchParams(location.search)
const store = browserStore({ key: 'tabs-test' })
const plantly = createSessionFetch({
  baseURL: location.origin,
  store,
  refreshTimeoutMs: Number(params.get('refreshTimeoutMs') ?? 10_000),
})

const events: { name: SessionEventName; source: string }[] = []
for (const name of ['login', 'refresh', 'logout', 'expired'] as const) {
  plantly.on(name, (payload) => events.push({ name, source: payload.source }))
}

const REFRESH_LOCK = 'session-fetch:tabs-test:refresh'
let releaseHeld = () => {}

// A storm armed in every tab starts in all of them at once on one BroadcastChannel message.
const starter = new BroadcastChannel('tabs-test:go')
let armed: Promise<number[]> | undefined

function storm(count: number, label: string): Promise<number[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) => plantly.fetch(`/buyers/${label}-${i}`).then((r) => r.status)),
  )
}

const api = {
  coordination: () => store.coordination,
  async login(email: string, password: string): Promise<void> {
    await plantly.login({ email_address: email, password })
  },
  async logout(): Promise<void> {
    await plantly.logout()
  },
  async accessToken(): Promise<string | null> {
    return (await plantly.getSession())?.access_token ?? null
  },
  async get(path: string): Promise<number> {
    return (await plantly.fetch(path)).status
  },
  storm,
  arm(count: number, label: string): void {
    armed = new Promise((resolve, reject) => {
      starter.onmessage = () => storm(count, label).then(resolve, reject)
    })
  },
  /** Start the storms armed in every tab, this one included. */
  go(): void {
    starter.postMessage('go')
    starter.onmessage?.(new MessageEvent('message', { data: 'go' }))
  },
  armed(): Promise<number[]> {
    return armed ?? Promise.reject(new Error('no storm armed'))
  },
  /**
   * Write over the stored version `count` times by read-then-compare-and-set, each under the refresh lock or
   * outside any lock; returns the writes this tab won, each as the version it was written over and its own.
   */
  async increments(count: number, writer: string, underLock: boolean): Promise<[number, number][]> {
    const won: [number, number][] = []
    const once = async () => {
      const current = await store.read()
      const written = await store.write(
        { record: current.record, reason: 'refresh', writer },
        current.version,
      )
      if (written) won.push([current.version, written.version])
    }
    while (won.length < count) {
      if (underLock && store.lock) await store.lock(once, { leaseMs: 10_000 })
      else await once()
    }
    return won
  },
  /** Send `path` a POST `Request` whose body is made from `kind` through the session; its status. */
  async postRequest(kind: 'string' | 'blob' | 'form' | 'params', path: string): Promise<number> {
    const form = new FormData()
    form.append('name', 'Fern')
    form.append('photo', new Blob([new Uint8Array([1, 2, 3, 250])], { type: 'image/png' }), 'fern.png')
    const bodies = {
      string: JSON.stringify({ plant: 'fern' }),
      blob: new Blob(['plant=fern'], { type: 'text/x-plant' }),
      form,
      params: new URLSearchParams({ plant: 'fern' }),
    }
    const request = new Request(new URL(path, location.origin), { method: 'POST', body: bodies[kind] })
    return (await plantly.fetch(request)).status
  },
  events: () => events,
  stats: () => plantly.stats(),
  /** Take the refresh lock directly (as another holder would) until `releaseLock()`; resolves once held. */
  holdLock(): Promise<void> {
    return new Promise((granted) => {
      void navigator.locks.request(
        REFRESH_LOCK,
        () =>
          new Promise<void>((release) => {
            releaseHeld = release
            granted()
          }),
      )
    })
  },
  releaseLock(): void {
    releaseHeld()
  },
  async refreshLock(): Promise<{ held: number; pending: number }> {
    const { held = [], pending = [] } = await navigator.locks.query()
    const mine = (lock: LockInfo) => lock.name === REFRESH_LOCK
    return { held: held.filter(mine).length, pending: pending.filter(mine).length }
  },
}

export type TabApi = typeof api

declare global {
  interface Window {
    tab: TabApi
  }
}

window.tab = api
