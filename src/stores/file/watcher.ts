import { type FSWatcher, watch } from 'node:fs'

/**
 * One `fs.watch` on the session file's folder, started on first use: tells `onEvent` the name of each entry
 * that changed (undefined where the platform does not say). It never keeps a process alive (`persistent: false`);
 * where watching fails (some network file systems) `onError` is told once and the store falls back to reading
 * before every refresh decision and polling for the lock.
 */
export function createDirectoryWatcher(
  directory: string,
  onEvent: (name: string | undefined) => void,
  onError: (error: unknown) => void,
) {
  let watcher: FSWatcher | undefined
  let failed = false

  return {
    start(): void {
      if (watcher || failed) return
      try {
        watcher = watch(directory, { persistent: false }, (_event, name) => onEvent(name ?? undefined))
        watcher.on('error', (error: unknown) => {
          watcher?.close()
          watcher = undefined
          failed = true
          onError(error)
        })
      } catch (error) {
        failed = true
        onError(error)
      }
    },
    close(): void {
      watcher?.close()
      watcher = undefined
    },
  }
}
