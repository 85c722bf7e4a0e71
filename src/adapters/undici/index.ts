// The public surface of `session-fetch/undici`: the interceptor and the type it takes. Deliberately private: its
// two handlers, the held refusal they share, and the header helpers.

export type { SessionSource } from '../shared/pipeline-registry.js'
export { sessionInterceptor } from './interceptor.js'
