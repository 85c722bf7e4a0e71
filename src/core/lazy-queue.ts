import { RefreshError } from '../errors/refresh-error.js'
import { lazy } from './lazy.js'

type PQueue = InstanceType<typeof import('p-queue')['default']>

/**
 * Load p-queue now, in the background: it is kept out of the entry bundle (only a refresh needs it). Shared by
 * every instance; a failed load is tried again by the next refresh.
 */
export const preloadQueue = lazy(() =>
  import('p-queue').catch((error: unknown) => {
    throw new RefreshError(error)
  }),
)

/** A queue of one task at a time, as the refresh coordinator uses it. */
export interface LazyQueue {
  add<T>(task: () => Promise<T>): Promise<T>
  /** Resolves once nothing is queued or running. */
  onIdle(): Promise<void>
  /** Tasks waiting or running now. */
  count(): number
}

/** p-queue (concurrency 1), created on first use. Tasks added while it loads run in the order they were added. */
export function lazyQueue(): LazyQueue {
  let queue: PQueue | undefined
  let waiting = 0
  const load = async (): Promise<PQueue> => {
    const module = await preloadQueue()
    queue ??= new module.default({ concurrency: 1 })
    return queue
  }
  return {
    add<T>(task: () => Promise<T>): Promise<T> {
      if (queue) return queue.add(task)
      waiting++
      return load().then(
        (ready) => {
          waiting--
          return ready.add(task)
        },
        (error: unknown) => {
          waiting--
          throw error
        },
      )
    },
    async onIdle(): Promise<void> {
      if (!queue && waiting === 0) return
      await (await load()).onIdle()
    },
    count(): number {
      return waiting + (queue ? queue.size + queue.pending : 0)
    },
  }
}
