import { Listeners } from '../../core/listeners.js'
import type { StoreSnapshot } from '../../core/store.js'
import { endConnection, type RedisCommands } from './connection.js'
import type { RedisConnectionLike } from './options.js'

/** A change as the write script publishes it. */
export interface PublishedChange {
  version: number
  data: string
  reason: string
  writer: string
}

/**
 * Change notifications over pub/sub, on a connection of their own (a duplicate of the command client) that
 * never keeps a process alive. Deliveries run one after another, in the order Redis published them; after a
 * reconnect (node-redis resubscribes by itself) the store is read once, since a change may have been missed.
 */
export function createSubscription(
  commands: RedisCommands,
  channel: string,
  options: {
    /** The current snapshot, read from Redis. */
    read(): Promise<StoreSnapshot>
    /** The snapshot a published change describes. */
    decode(change: PublishedChange): Promise<StoreSnapshot>
    /** Any message arrived (a lock release included). */
    onMessage(message: string): void
    /** Messages that carry no change (a lock release). */
    ignore: string
  },
) {
  const listeners = new Listeners<StoreSnapshot>()
  let subscriber: RedisConnectionLike | undefined
  let subscribing: Promise<void> | undefined
  let subscribed = false
  let delivery: Promise<void> = Promise.resolve()

  function enqueue(produce: () => Promise<StoreSnapshot>): void {
    delivery = delivery.then(produce).then(
      (snapshot) => listeners.emit(snapshot),
      (error: unknown) => commands.report(error, 'change notification'),
    )
  }

  function onMessage(message: string): void {
    options.onMessage(message)
    if (message === options.ignore || commands.closed) return
    enqueue(() => options.decode(JSON.parse(message) as PublishedChange))
  }

  function start(): void {
    if (subscribing) return
    subscribing = (async () => {
      const connection = commands.duplicate()
      connection.unref?.() // listening is not work
      subscriber = connection
      connection.on('error', (error: unknown) => commands.report(error, 'pub/sub connection'))
      // Back after a drop (a cluster node, or a sentinel's new primary): read once, a change may have been missed.
      const reread = () => {
        if (subscribed && !commands.closed) enqueue(options.read)
      }
      connection.on('ready', reread)
      if (commands.kind === 'cluster') connection.on('node-ready', reread)
      if (commands.kind === 'sentinel') connection.on('topology-change', reread)
      await connection.connect()
      if (commands.closed) return endConnection(connection)
      // On a cluster the channel is sharded (SSUBSCRIBE, Redis >= 7): served by the slot's own nodes.
      if (commands.kind === 'cluster' && connection.sSubscribe)
        await connection.sSubscribe(channel, onMessage)
      else await connection.subscribe(channel, onMessage)
      subscribed = true
      // A change written between the caller's read and this subscription is caught here.
      enqueue(options.read)
    })().catch((error: unknown) => {
      subscribing = undefined
      commands.report(error, 'subscribe')
    })
  }

  return {
    subscribe(listener: (snapshot: StoreSnapshot) => void): () => void {
      const remove = listeners.on(listener)
      start()
      return remove
    },
    async close(): Promise<void> {
      listeners.clear()
      await endConnection(subscriber)
    },
  }
}
