export { type FileStore, fileStore } from './file-store.js'
export type { FileStoreOptions, LockWait } from './options.js'
