// Captured before any test fakes timers: setImmediate is never faked by the suite.
const realSetImmediate = setImmediate

/** Let every pending promise chain run: a few turns of the event loop (not a timer, so fake timers don't matter). */
export async function flush(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => realSetImmediate(resolve))
}
