/**
 * A loader for code kept out of the entry bundle (`lazy(() => import(specifier))`): the first call starts the
 * import, every later call gets the same promise, so it loads once; a load that failed (a chunk the network did
 * not deliver) is forgotten, and the next call tries again.
 */
export function lazy<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined
      throw error
    }))
}
