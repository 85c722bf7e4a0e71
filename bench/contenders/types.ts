/** What every contender gets: the benchmark server and the demo account. */
export interface BenchContext {
  /** Base URL of the benchmark server, e.g. `http://127.0.0.1:41234`. */
  url: string
  credentials: { email_address: string; password: string }
  /**
   * The clock a client that takes one should read (this package's `now` option): the storm moves it past a
   * token's lifetime instead of waiting through it. Clients without such an option learn of the expiry from
   * the server's 401, as they would anyway.
   */
  now?: () => number
}

/** One way of making the authenticated GET. */
export interface Client {
  /** GET the protected resource and read its JSON body; rejects on anything but a 200. */
  get(signal?: AbortSignal): Promise<void>
}

/**
 * A contender: one small module whose default export logs in (the way that client's docs say) and returns a
 * ready client. Register it in bench/contenders/index.ts.
 */
export interface Contender {
  /** Short id used on the command line and in the tables. */
  name: string
  /** What the tables show. */
  label: string
  create(context: BenchContext): Promise<Client>
}

/** The protected resource every contender GETs. */
export const RESOURCE = '/plants/42'
