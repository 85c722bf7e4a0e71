export type { RedisClientLike, RedisConnectionLike, RedisStoreOptions } from './options.js'
export { type RedisStore, redisStore } from './redis-store.js'
