import { StoreError } from '../../errors/store-error.js'

const CLOCK_TTL_MS = 10 * 60_000 // re-measure the offset to Redis' clock after this long

/**
 * Redis time − local time, from the fastest of three TIME round trips, cached for ten minutes. Records are
 * stored in Redis' clock, so processes whose clocks disagree still agree on when a token expires.
 */
export function createRedisClock(send: (args: string[]) => Promise<unknown>, now: () => number) {
  let clock: { offsetMs: number; at: number } | undefined
  let measuring: Promise<number> | undefined

  return function offsetMs(): Promise<number> {
    if (clock && Math.abs(now() - clock.at) < CLOCK_TTL_MS) return Promise.resolve(clock.offsetMs)
    measuring ??= (async () => {
      let best: { rtt: number; offsetMs: number } | undefined
      for (let i = 0; i < 3; i++) {
        const before = now()
        const [seconds, micros] = (await send(['TIME'])) as [unknown, unknown]
        const after = now()
        const redisMs = Number(String(seconds)) * 1000 + Number(String(micros)) / 1000
        const sample = { rtt: after - before, offsetMs: redisMs - (before + after) / 2 }
        if (!Number.isFinite(sample.offsetMs)) throw new StoreError('Redis answered TIME with something else')
        if (!best || sample.rtt < best.rtt) best = sample
      }
      const offset = (best as { offsetMs: number }).offsetMs
      clock = { offsetMs: offset, at: now() }
      return offset
    })().finally(() => {
      measuring = undefined
    })
    return measuring
  }
}
