import { execFile } from 'node:child_process'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterEach } from 'vitest'

const run = promisify(execFile)
const mounted = new Set<string>()

/**
 * A tmpfs of `kib` KiB (mode 0700) mounted on a fresh folder, unmounted after the test. Mounting needs root, which
 * CI has; anywhere else this fails, saying so (never a skip: the test could not do what it is about).
 */
export async function smallFilesystem(kib = 64): Promise<string> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `mounting a ${kib} KiB tmpfs needs root (CI runs the tests as root); this runs as uid ${process.getuid?.()}`,
    )
  }
  const folder = await mkdtemp(join(tmpdir(), 'session-fetch-tmpfs-'))
  await run('mount', ['-t', 'tmpfs', '-o', `size=${kib}k,mode=0700`, 'tmpfs', folder])
  mounted.add(folder)
  return folder
}

/** Make a mounted tmpfs read-only, or writable again (nothing may be open for writing on it). */
export async function remount(folder: string, mode: 'ro' | 'rw'): Promise<void> {
  await run('mount', ['-o', `remount,${mode}`, folder])
}

/** Fill the file system of `folder` up with a file of its own; returns that file's path (remove it to free). */
export async function fillUp(folder: string): Promise<string> {
  const filler = join(folder, 'filler')
  const handle = await open(filler, 'wx', 0o600)
  const chunk = Buffer.alloc(4096, 1)
  try {
    for (;;) await handle.write(chunk)
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOSPC') throw error
  } finally {
    await handle.close()
  }
  return filler
}

afterEach(async () => {
  for (const folder of mounted) {
    await run('umount', ['--lazy', folder]).catch(() => {})
    await rm(folder, { recursive: true, force: true })
  }
  mounted.clear()
})
