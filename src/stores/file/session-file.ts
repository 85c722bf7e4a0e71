import { randomUUID } from 'node:crypto'
import type { Stats } from 'node:fs'
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises'
import { StoreError } from '../../errors/store-error.js'
import { isCode } from './file-lock.js'

/** What the session file holds: the version it was written at, why and by whom, and the encoded record. */
export interface FileContent {
  version: number
  reason: string | undefined
  writer: string | undefined
  /** The codec's text ('' when there is no session). */
  data: string
}

const FORMAT = 1
const PRIVATE_FILE = 0o600
const PRIVATE_DIRECTORY = 0o700
const isWindows = process.platform === 'win32' // modes and owners mean nothing there: the ACLs of %LOCALAPPDATA% do

/**
 * The session file: read whole or not at all (a missing file is version 0), written atomically (a temporary
 * file in the same folder, fsync, rename over the old one, fsync of the folder), so a reader sees the old file
 * or the new one, never half of either. Only a file of this user that no other user can read or write is used.
 */
export function createSessionFile(path: string, directory: string) {
  let ready: Promise<void> | undefined

  function refuse(what: string): StoreError {
    return new StoreError(`The session file ${JSON.stringify(path)} ${what}: refusing to use it`)
  }

  function checkPrivate(stats: Stats, kind: 'file' | 'directory'): void {
    if (isWindows) return
    const uid = process.getuid?.()
    if (kind === 'file' && uid !== undefined && stats.uid !== uid) {
      throw refuse(`belongs to another user (uid ${stats.uid})`)
    }
    const mode = stats.mode & 0o7777
    if (kind === 'file' && (mode & 0o066) !== 0) {
      throw refuse(`can be read or written by other users (mode ${octal(mode)}; chmod 600 it)`)
    }
    // Others who can write to the folder can replace the file, unless the sticky bit stops them (as in /tmp).
    if (kind === 'directory' && (mode & 0o022) !== 0 && (mode & 0o1000) === 0) {
      throw refuse(
        `is in a folder other users can write to, ${JSON.stringify(directory)} (mode ${octal(mode)}; chmod 700 it)`,
      )
    }
  }

  /** Create the folder (0700) the first time, and check it is not open to other users. */
  function prepare(): Promise<void> {
    ready ??= (async () => {
      await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY })
      checkPrivate(await stat(directory), 'directory')
    })().catch((error: unknown) => {
      ready = undefined
      throw error instanceof StoreError ? error : failure(error, 'create the folder of')
    })
    return ready
  }

  function failure(error: unknown, action: string): StoreError {
    return new StoreError(`Could not ${action} the session file ${JSON.stringify(path)}`, { cause: error })
  }

  function parse(text: string): FileContent {
    const corrupt = (why: string) =>
      new StoreError(
        `The session file ${JSON.stringify(path)} is ${why}: delete it (and log in again) to start over`,
      )
    if (text.trim() === '') throw corrupt('empty (truncated?)')
    let value: unknown
    try {
      value = JSON.parse(text)
    } catch {
      throw corrupt('not valid JSON (truncated or corrupt)')
    }
    const content = value as Partial<FileContent & { format: number }> | null
    if (typeof content !== 'object' || content === null || content.format !== FORMAT) {
      throw corrupt('not a session-fetch session file')
    }
    const { version, reason, writer, data } = content
    if (
      typeof version !== 'number' ||
      !Number.isSafeInteger(version) ||
      version < 0 ||
      typeof data !== 'string' ||
      (reason !== undefined && typeof reason !== 'string') ||
      (writer !== undefined && typeof writer !== 'string')
    ) {
      throw corrupt('damaged (its version, reason, writer or data is not what was written)')
    }
    return { version, reason, writer, data }
  }

  async function read(): Promise<FileContent> {
    await prepare()
    let handle: Awaited<ReturnType<typeof open>>
    try {
      handle = await open(path, 'r')
    } catch (error) {
      if (isCode(error, 'ENOENT')) return { version: 0, reason: undefined, writer: undefined, data: '' }
      throw failure(error, 'open')
    }
    try {
      // The checks look at the file that was opened, not at whatever the path names a moment later.
      checkPrivate(await handle.stat(), 'file')
      return parse(await handle.readFile('utf8'))
    } catch (error) {
      throw error instanceof StoreError ? error : failure(error, 'read')
    } finally {
      await handle.close()
    }
  }

  async function write(content: FileContent): Promise<void> {
    await prepare()
    const temporary = `${path}.${randomUUID()}.tmp`
    try {
      const handle = await open(temporary, 'wx', PRIVATE_FILE)
      try {
        await handle.writeFile(JSON.stringify({ format: FORMAT, ...content }))
        await handle.sync()
      } finally {
        await handle.close()
      }
      await rename(temporary, path)
    } catch (error) {
      await unlink(temporary).catch(() => {})
      throw failure(error, 'write')
    }
    // The rename itself survives a power cut only once the folder is flushed (POSIX; not possible on Windows).
    if (!isWindows) {
      const folder = await open(directory, 'r').catch(() => undefined)
      await folder
        ?.sync()
        .catch(() => {})
        .finally(() => folder.close())
    }
  }

  return { read, write, prepare }
}

function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`
}
