import { plainClient, testStore, uniqueKey } from '../../helpers/redis.js'
import { describeStore } from '../contract/describe-store.js'

// Each instance is a store object with connections of its own on one key, as each process has. The lock's lease
// is renewed by a watchdog while the holder runs, and only a holder that stopped is taken over (docs/redis.md);
// the key can be lost (evicted, flushed, a restart without persistence). A record's times are kept in Redis'
// clock and translated back with a measured offset (the `now` option), so they may move by its error.
describeStore({
  name: 'redisStore()',
  storage() {
    const key = uniqueKey('contract')
    return {
      open: () => testStore({ key }),
      async lose() {
        await (await plainClient()).del(key)
      },
    }
  },
  capabilities: { lock: 'renewed', subscribe: true, close: true, bind: true, lose: true },
  timeToleranceMs: 1_000,
})
