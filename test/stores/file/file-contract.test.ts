import { rm } from 'node:fs/promises'
import { join } from 'node:path'
import { tempFolder, testFileStore } from '../../helpers/file-store.js'
import { describeStore } from '../contract/describe-store.js'

// Each instance is a store object of its own on one file, as each process has. The lock hands out a lease
// (`LockGrant`) that others take over once it has ended (docs/file.md); the file can be deleted under running
// processes (some error messages advise it).
describeStore({
  name: 'fileStore()',
  async storage() {
    const path = join(await tempFolder('contract'), 'session.json')
    return {
      open: () => testFileStore({ path }),
      lose: () => rm(path),
    }
  },
  capabilities: { lock: 'lease', subscribe: true, close: true, bind: true, lose: true },
})
