// The authorization server's endpoints: given in the options, or read from its metadata (OpenID Connect Discovery
// 1.0, RFC 8414) once, on the first call that needs one.
import type { ProtocolContext } from '../../core/protocol.js'
import { withoutQuery } from '../../errors/redact.js'
import type { ResolvedOAuth2Options } from './options.js'

/** Where a protocol sends its token and revocation requests. */
export interface Endpoints {
  /**
   * Settles once `config.tokenEndpoint` (and `revocationEndpoint`, if the metadata names one) are known: undefined
   * when they are. A failed read is forgotten, so the next call reads again.
   */
  known(context: ProtocolContext): Promise<void> | undefined
  /** True for the token and revocation endpoints, whatever their query: the protocol's own requests. */
  owns(url: string): boolean
  /** The DPoP algorithms the metadata lists (`dpop_signing_alg_values_supported`), once read. */
  dpopAlgs(): unknown
}

/** The endpoints of `config`, which discovery completes in place. */
export function endpointsOf(config: ResolvedOAuth2Options): Endpoints {
  const owned = new Set<string>()
  const own = () => {
    if (config.tokenEndpoint) owned.add(withoutQuery(config.tokenEndpoint))
    if (config.revocationEndpoint) owned.add(withoutQuery(config.revocationEndpoint))
  }
  own()
  let dpopAlgs: unknown
  let discovery: Promise<void> | undefined
  return {
    known(context) {
      const issuer = config.discover
      if (!issuer || config.tokenEndpoint) return undefined
      // Loaded on first use: most instances are given their endpoints.
      discovery ??= import('./discovery.js')
        .then(({ discover }) => discover(issuer, context))
        .then((metadata) => {
          // RFC 8705 §5: a client presenting a certificate uses the aliases where the metadata lists them.
          const aliases = config.mtls ? metadata.mtls_endpoint_aliases : undefined
          config.tokenEndpoint = aliases?.token_endpoint ?? metadata.token_endpoint
          config.revocationEndpoint ??= aliases?.revocation_endpoint ?? metadata.revocation_endpoint
          dpopAlgs = metadata.dpop_signing_alg_values_supported
          own()
        })
        .finally(() => {
          discovery = undefined
        })
      return discovery
    },
    owns: (url) => owned.has(withoutQuery(url)),
    dpopAlgs: () => dpopAlgs,
  }
}
