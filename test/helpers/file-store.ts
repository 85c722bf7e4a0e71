import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach } from 'vitest'
import { type FileStore, type FileStoreOptions, fileStore } from '../../src/stores/file/index.js'

const folders = new Set<string>()
const stores = new Set<FileStore>()

/** A fresh private folder (0700, from mkdtemp) for this test's session files; removed after it. */
export async function tempFolder(label = 'file-store'): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), `session-fetch-${label}-`))
  folders.add(folder)
  return folder
}

/** A file store, closed after the test. */
export function testFileStore(options: FileStoreOptions): FileStore {
  const store = fileStore(options)
  stores.add(store)
  return store
}

afterEach(async () => {
  for (const store of stores) store.close()
  stores.clear()
  await Promise.all([...folders].map((folder) => rm(folder, { recursive: true, force: true })))
  folders.clear()
})
