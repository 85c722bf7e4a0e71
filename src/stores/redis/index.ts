export type {
  RedisClientLike,
  RedisClusterLike,
  RedisConnectionLike,
  RedisSentinelLike,
  RedisStoreOptions,
} from './options.js'
export { type RedisStore, redisStore } from './redis-store.js'
