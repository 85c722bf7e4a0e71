import { randomUUID } from 'node:crypto'
import { constants } from 'node:fs'
import { type FileHandle, lstat, mkdir, open, rename, unlink } from 'node:fs/promises'
import { StoreError } from '../../errors/store-error.js'
import {
  checkFolder,
  type FileKind,
  isCode,
  readOwn,
  remove,
  WRITE_FLAGS,
  writeAll,
} from './private-files.js'

/** What the session file holds: the version it was written at, why and by whom, and the encoded record. */
export interface FileContent {
  version: number
  reason: string | undefined
  writer: string | undefined
  /** The codec's text ('' when there is no session). */
  data: string
}

/** A temporary file made before a refresh is sent, holding the room its write will need. */
export interface Reservation {
  readonly path: string
  readonly ino: number
  readonly dev: number
}

const FORMAT = 1
const PRIVATE_FILE = 0o600
const PRIVATE_DIRECTORY = 0o700
// Room held for the next write: twice the current file (the new tokens are about the size of the old ones), and
// enough for a sealed session from a first login.
const MIN_RESERVATION_BYTES = 8_192
const SESSION_FILE: FileKind = { name: 'session file', secret: true, remedy: 'remove it and log in again' }
const isWindows = process.platform === 'win32'

/**
 * The session file: read whole or not at all (a missing file is version 0), written atomically (a temporary
 * file in the same folder, fsync, rename over the old one, fsync of the folder), so a reader sees the old file
 * or the new one, never half of either. Only a regular file of this user that no other user can read or write,
 * in a folder of this user's that nobody else can write to, is used.
 */
export function createSessionFile(path: string, directory: string) {
  let ready: Promise<void> | undefined
  const subject = `the session file ${JSON.stringify(path)}`

  /** Create the folder (0700) the first time, and check that it, and what is above it, is this user's. */
  function prepare(): Promise<void> {
    ready ??= (async () => {
      try {
        await mkdir(directory, { recursive: true, mode: PRIVATE_DIRECTORY })
      } catch (error) {
        // A read-only file system answers EROFS even for a folder that exists; the check below looks at it.
        if (!isCode(error, 'EROFS')) throw error
      }
      if (!(await checkFolder(directory, subject))) throw new StoreError(`${subject} has no folder`)
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
    const file = await readOwn(path, SESSION_FILE)
    if (!file) return { version: 0, reason: undefined, writer: undefined, data: '' }
    return parse(file.text)
  }

  /**
   * Make the temporary file the next write will use, at its full size, so that a write after a refresh needs no
   * more room than was there before the refresh was sent (on file systems that overwrite in place: not on
   * copy-on-write ones such as btrfs or ZFS).
   */
  async function reserve(): Promise<Reservation> {
    await prepare()
    const current = await lstat(path).then(
      (stats) => (stats.isFile() ? stats.size : 0),
      () => 0,
    )
    const size = Math.max(MIN_RESERVATION_BYTES, 2 * current)
    const temporary = `${path}.${randomUUID()}.tmp`
    let handle: FileHandle | undefined
    try {
      handle = await open(temporary, 'wx', PRIVATE_FILE)
      await writeAll(handle, Buffer.alloc(size, 0x20))
      const { ino, dev } = await handle.stat()
      return { path: temporary, ino, dev }
    } catch (error) {
      if (handle) await unlink(temporary).catch(() => {})
      throw failure(error, 'make room for the next write of')
    } finally {
      await handle?.close().catch(() => {})
    }
  }

  /** Open a reservation again, making sure it is still the file that was made. */
  async function reopen(reservation: Reservation): Promise<FileHandle> {
    const handle = await open(reservation.path, WRITE_FLAGS)
    const stats = await handle.stat()
    if (stats.ino !== reservation.ino || stats.dev !== reservation.dev || !stats.isFile()) {
      await handle.close()
      throw new StoreError(`The temporary file ${JSON.stringify(reservation.path)} was replaced`)
    }
    return handle
  }

  /** Write `content` atomically, into `reservation` when there is one (it is used up either way). */
  async function write(content: FileContent, reservation?: Reservation): Promise<void> {
    await prepare()
    const text = Buffer.from(JSON.stringify({ format: FORMAT, ...content }))
    const temporary = reservation?.path ?? `${path}.${randomUUID()}.tmp`
    let handle: FileHandle | undefined
    try {
      handle = reservation ? await reopen(reservation) : await open(temporary, 'wx', PRIVATE_FILE)
      // Over the room already held, then cut to size: shrinking a file never needs space.
      await writeAll(handle, text)
      await handle.truncate(text.length)
      await handle.sync()
      await handle.close()
      handle = undefined
      await rename(temporary, path)
    } catch (error) {
      await handle?.close().catch(() => {})
      // A reservation is the caller's to discard (and to try again if even that fails: a read-only disk).
      if (!reservation) await unlink(temporary).catch(() => {})
      throw error instanceof StoreError ? error : failure(error, 'write')
    }
    // The rename itself survives a power cut only once the folder is flushed (POSIX; not possible on Windows).
    if (!isWindows) {
      const folder = await open(directory, constants.O_RDONLY | (constants.O_DIRECTORY ?? 0)).catch(
        () => undefined,
      )
      await folder
        ?.sync()
        .catch(() => {})
        .finally(() => folder.close())
    }
  }

  /** Remove a reservation (gone already once it was written); false when it could not be (a read-only disk). */
  function discard(reservation: Reservation): Promise<boolean> {
    return remove(reservation.path)
  }

  return { read, write, prepare, reserve, discard }
}
