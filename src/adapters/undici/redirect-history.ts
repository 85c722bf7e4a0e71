import type { Pipeline } from '../../core/pipeline.js'

/**
 * The first hop of a followed redirect chain that the session does not cover, if any.
 *
 * undici's redirect interceptor, composed below the session's, follows redirects within its one dispatch and
 * lists every hop in `history` of the context it hands on (the one that answered last). A hop to an origin the
 * session does not cover had no token (the redirect handler strips Authorization across origins): its answer
 * says nothing about ours.
 */
export function awayFrom(context: unknown, pipeline: Pipeline, method: string): string | undefined {
  const history = (context as { history?: unknown } | undefined)?.history
  if (!Array.isArray(history)) return undefined
  for (const hop of history) if (!pipeline.covers(String(hop), method)) return String(hop)
  return undefined
}
