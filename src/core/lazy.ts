/**
 * A loader for code kept out of the entry bundle (`lazy(() => import(specifier))`): the first call starts the
 * import, every later call gets the same promise, so it loads once; a load that failed (a chunk the network did
 * not deliver) is forgotten, and the next call tries again.
 *
 * Code loaded this way imports nothing that the entry imports too (the error classes, shared helpers): the code
 * that loads it hands it over instead. A bundler that splits code puts a module both sides import into a chunk
 * of its own, which the entry then loads as one more file, compressed on its own (`npm run size` measures the
 * request path that way: scripts/check-split-size.mjs).
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined
      throw error
    }))
}

let ahead = true

/**
 * Start `load` now, in the background, so that its first use rarely waits; a failure is left for that use to
 * meet. Nothing is started once `loadOnFirstUse()` was called.
 */
export function preload(load: () => Promise<unknown>): void {
  if (ahead) load().catch(() => undefined)
}

/**
 * For a process that makes one call and exits (the `session-fetch` command): code kept out of the entry loads
 * when first used, never ahead of it. Loading it ahead costs a short-lived process its start-up time (ofetch
 * alone brings in Node's own fetch implementation), for a refresh that most runs never make. Not exported by
 * the package: the command bundles its own copy of the core.
 */
export function loadOnFirstUse(): void {
  ahead = false
}
