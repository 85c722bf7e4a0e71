import type { ResolvedOptions } from './options.js'
import type { Pipeline } from './pipeline.js'
import type { SessionCore } from './session-core.js'
import type { SessionFetch } from './session-fetch.js'

/**
 * How the client calls what the `instrumentation` option holds: with the client (its methods may be wrapped), the request
 * pipeline every adapter goes through (`tokenFor`, `after`), the session core (`refresher`, `noteReplay`) and the
 * resolved options (`fetch`, read per session call once the client is built: the requests' transport is fixed by
 * then). Nothing of it is called on the request path when no instrumentation is given.
 */
export type Instrument = (
  client: SessionFetch<unknown>,
  pipeline: Pipeline,
  core: SessionCore<unknown>,
  options: ResolvedOptions<unknown>,
) => void
