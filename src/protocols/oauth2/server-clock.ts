// The authorization server's clock as far as the client can tell: what client assertions and DPoP proofs are stamped
// with, so that a local clock that is off does not get them refused (their `iat` and `exp` are read by the server's).

/** How far the estimate must move for a refused assertion or proof to be worth sending again, restamped. */
const MOVED_MS = 5_000

/** The authorization server's time: the local clock plus an offset, from `clockSkewMs`, then from its answers. */
export interface ServerClock {
  /** The server's time now, in epoch ms. */
  now(): number
  /** How far (ms) the local clock is behind the server's, as estimated now. */
  offset(): number
  /**
   * True when an answer to something stamped with offset `stampedWith` refuses it for a reason a wrong time
   * explains (`invalid_client`, `invalid_dpop_proof`), and its own `Date` moved the estimate far enough since.
   */
  refused(stampedWith: number, response: Response, body: unknown): boolean
  /** `fetch`, reading the time off every answer it passes on. */
  watch(fetch: typeof globalThis.fetch): typeof globalThis.fetch
}

/** A server clock that starts `skewMs` ahead of the local one (the `clockSkewMs` option). */
export function serverClock(skewMs: number): ServerClock {
  let offset = skewMs
  return {
    now: () => Date.now() + offset,
    offset: () => offset,
    refused: (stampedWith, response, body) =>
      (response.status === 400 || response.status === 401) &&
      /^invalid_(client|dpop_proof)$/.test(String((body as { error?: unknown } | undefined)?.error)) &&
      Math.abs(offset - stampedWith) >= MOVED_MS,
    watch: (fetch) => async (input, init) => {
      const response = await fetch(input, init)
      const date = Date.parse(response.headers.get('date') ?? '')
      if (!Number.isNaN(date)) {
        // `Date` is when the answer was made, in whole seconds (rounded down: the estimate errs towards the past,
        // where a JWT is still good); `Age`, how long a cache has held it since (RFC 9111 §5.1).
        const age = Number(response.headers.get('age'))
        offset = date + (age > 0 ? age * 1000 : 0) - Date.now()
      }
      return response
    },
  }
}
