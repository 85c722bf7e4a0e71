export {
  type BrowserCoordination,
  type BrowserStore,
  type BrowserStoreOptions,
  browserStore,
} from './browser-store.js'
export { browserDpopKeyPair } from './dpop-key-pair.js'

import { inTabLocks, type WebLockManager } from './web-lock.js'

export type { WebLockManager, WebLockSnapshot } from './web-lock.js'

/**
 * The in-tab lock manager the store falls back to where `navigator.locks` is missing.
 * @deprecated `browserStore({ locks: null })` does the same (and says so in `coordination.lock`); this export goes
 * in the next minor version.
 */
export const tabLocks: () => WebLockManager = inTabLocks
