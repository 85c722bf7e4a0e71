import type { Pipeline } from '../../core/pipeline.js'
import type { SessionFetch } from '../../core/session-fetch.js'
import { OptionError } from '../../errors/option-error.js'

/**
 * What the adapters (axios, undici) accept: a `createSessionFetch()` client, of any protocol.
 * @deprecated Use `SessionFetch` (from `session-fetch`): the adapters take `SessionFetch<unknown>`. This name goes
 * in the next minor version.
 */
export type SessionSource = SessionFetch<unknown>

// The pipeline of each client createSessionFetch made: how adapters reach it, without a public property.
const pipelines = new WeakMap<object, Pipeline>()

/** Register the pipeline of a client (createSessionFetch does it). */
export function registerPipeline(client: object, pipeline: Pipeline): void {
  pipelines.set(client, pipeline)
}

/** The pipeline of `client`, or an OptionError naming `argument` when it is not a createSessionFetch() client. */
export function pipelineOf(client: unknown, argument: string): Pipeline {
  const pipeline = typeof client === 'object' && client !== null ? pipelines.get(client) : undefined
  if (!pipeline) throw new OptionError(argument, 'expected the object returned by createSessionFetch()')
  if (pipeline.authorize) {
    throw new OptionError(
      argument,
      "its protocol binds tokens to a proof per request (DPoP), which only the session's own fetch (and the ofetch adapter) make",
    )
  }
  return pipeline
}
