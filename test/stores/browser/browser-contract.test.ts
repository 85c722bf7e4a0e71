// The browser store in Node, as its unit tests run it: fake-indexeddb stands in for the origin's IndexedDB,
// Node's BroadcastChannel carries the notices between store objects (tabs), and one inTabLocks() plays the
// origin's lock manager (Node 20 has no navigator.locks). The same across real tabs: browser-tabs.test.ts.
import { randomUUID } from 'node:crypto'
import { IDBFactory } from 'fake-indexeddb'
import { createStore, del } from 'idb-keyval'
import { vi } from 'vitest'
import { browserStore } from '../../../src/stores/browser/index.js'
import { inTabLocks } from '../../../src/stores/browser/web-lock.js'
import { describeStore } from '../contract/describe-store.js'

// Each instance is a store object of its own, as each tab has. The lock hands out a lease (`LockGrant`) that
// others take over once it has ended (docs/browser.md); the origin's data can be cleared under open tabs (the
// user, a `Clear-Site-Data` answer, eviction).
describeStore({
  name: 'browserStore()',
  storage() {
    vi.stubGlobal('indexedDB', new IDBFactory()) // a fresh origin
    const key = `contract-${randomUUID()}`
    const locks = inTabLocks()
    return {
      open: () => browserStore({ key, locks }),
      lose: () => del(key, createStore('session-fetch', 'sessions')),
      dispose() {
        vi.unstubAllGlobals()
      },
    }
  },
  capabilities: { lock: 'lease', subscribe: true, close: true, bind: true, lose: true },
})
