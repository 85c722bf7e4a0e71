export {
  type BrowserCoordination,
  type BrowserStore,
  type BrowserStoreOptions,
  browserStore,
} from './browser-store.js'
export { browserDpopKeyPair } from './dpop-key-pair.js'
export { tabLocks, type WebLockManager, type WebLockSnapshot } from './web-lock.js'
