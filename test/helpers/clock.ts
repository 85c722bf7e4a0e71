/** A client clock only the test moves (the `now` option): the core sees time pass when the test says so. */
export function manualClock(start = Date.now()) {
  let now = start
  return {
    now: () => now,
    advance(ms: number) {
      now += ms
    },
  }
}
