import { createHash } from 'node:crypto'

/** A Lua script run with EVALSHA, falling back to EVAL once when the server does not have it cached. */
export interface Script {
  readonly source: string
  readonly sha: string
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

/**
 * Compare-and-set of the session hash. KEYS[1] = the hash; ARGV = expected version, new version, data ('' = no
 * session), reason, writer, channel, message, publish command (PUBLISH or SPUBLISH). Writes the new version (it
 * must be above the stored one) and publishes `message` only when the stored version is still the expected one;
 * answers the new version, or nil when another writer got there first.
 */
export const WRITE = script(`
local current = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if current ~= tonumber(ARGV[1]) then return false end
local version = tonumber(ARGV[2])
if version <= current then return redis.error_reply('ERR session version must grow') end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'reason', ARGV[4], 'writer', ARGV[5])
redis.call(ARGV[8], ARGV[6], ARGV[7])
return version
`)

/**
 * Take the lock: SET key token NX PX lease. KEYS[1] = the lock; ARGV = owner token, lease ms. Answers {1, 0} when
 * taken, otherwise {0, the holder's remaining lease in ms} (-1 when the key has no expiry), so a waiter knows how
 * long to wait at most, in one round trip. Taking it again with the same token answers {1, 0}: a retry after a lost
 * reply (a failover) finds the lock its first attempt took.
 */
export const ACQUIRE = script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return {1, 0} end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1, 0} end
return {0, redis.call('PTTL', KEYS[1])}
`)

/**
 * Release the lock only if this owner still holds it (compare-and-delete), then tell waiters. KEYS[1] = the lock;
 * ARGV = owner token, channel, message, publish command (PUBLISH or SPUBLISH). Answers 1 when released, 0 when the lease had expired (and maybe someone
 * else holds it now, which must not be undone).
 */
export const RELEASE = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call(ARGV[4], ARGV[2], ARGV[3])
return 1
`)

/**
 * Extend the lock's lease only if this owner still holds it (compare-and-extend). KEYS[1] = the lock; ARGV = owner
 * token, lease ms. Answers 1 when extended, 0 when the lock is gone or someone else's (the lease had ended).
 */
export const EXTEND = script(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`)

/** Answers 1 and touches nothing: run before a `WAIT`, so the wait happens on the primary that serves KEYS[1]. */
export const NOTHING = script(`
return 1
`)
