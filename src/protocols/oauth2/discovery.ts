// Discovery of an authorization server's endpoints (OpenID Connect Discovery 1.0, RFC 8414). Loaded on first use.
import type { ProtocolContext } from '../../core/protocol.js'
import { InvalidResponseError } from '../../errors/invalid-response-error.js'
import { ResponseError } from '../../errors/response-error.js'
import { sessionCall } from '../session-call.js'

/** What discovery reads of the metadata. */
export interface Metadata {
  token_endpoint: string
  revocation_endpoint?: string
  dpop_signing_alg_values_supported?: unknown
  /** RFC 8705 §5: the endpoints a client presenting a certificate uses instead. */
  mtls_endpoint_aliases?: { token_endpoint?: string; revocation_endpoint?: string }
}

/**
 * Read the authorization server's metadata: `/.well-known/openid-configuration` appended to the issuer, else
 * (a 404) RFC 8414 §3.1's `/.well-known/oauth-authorization-server` inserted before the issuer's path. The
 * metadata must name the same issuer (§3.3) and http(s) endpoints.
 */
export async function discover(issuer: string, context: ProtocolContext): Promise<Metadata> {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/$/, '')
  const places = [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`,
  ]
  for (const [i, place] of places.entries()) {
    let response: Response & { _data?: unknown }
    try {
      response = await sessionCall(
        {
          method: 'GET',
          url: place,
          headers: { accept: 'application/json' },
          retry: 1,
          retryDelayMs: 200,
          json: true,
        },
        context,
      )
    } catch (error) {
      if (i === 0 && error instanceof ResponseError && error.status === 404) continue
      throw error
    }
    // Worded as what failed, discovery, never as a session; nothing the metadata says is shown, only what was
    // expected of it.
    const subject = `The authorization server's metadata (discovered at ${place})`
    const metadata = response._data
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
      throw new InvalidResponseError('body', 'is not a JSON object', subject)
    }
    const fields = metadata as Record<string, unknown>
    if (fields.issuer !== issuer) {
      throw new InvalidResponseError(
        'issuer',
        `is not ${JSON.stringify(issuer)}, the issuer asked for`,
        subject,
      )
    }
    for (const name of ['token_endpoint', 'revocation_endpoint'] as const) {
      const value = fields[name]
      if ((value !== undefined || name === 'token_endpoint') && !/^https?:\/\/[^#]+$/i.test(String(value))) {
        throw new InvalidResponseError(name, 'is not an http(s) URL', subject)
      }
    }
    const aliases = fields.mtls_endpoint_aliases
    if (aliases !== undefined) {
      if (typeof aliases !== 'object' || aliases === null || Array.isArray(aliases)) {
        throw new InvalidResponseError('mtls_endpoint_aliases', 'is not a JSON object', subject)
      }
      for (const name of ['token_endpoint', 'revocation_endpoint'] as const) {
        const value = (aliases as Record<string, unknown>)[name]
        if (value !== undefined && !/^https:\/\/[^#]+$/i.test(String(value))) {
          throw new InvalidResponseError(`mtls_endpoint_aliases.${name}`, 'is not an https URL', subject)
        }
      }
    }
    return fields as unknown as Metadata
  }
  throw new Error('unreachable')
}
