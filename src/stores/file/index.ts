export { type FileStore, fileStore } from './file-store.js'
export type { FileStoreOptions } from './options.js'
