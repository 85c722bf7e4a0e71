// How the client proves who it is to the token and revocation endpoints (RFC 6749 §2.3), as one value made from the
// options: the methods differ in what they add to a request, and in which secrets that puts on the wire.
import { OptionError } from '../../errors/option-error.js'
import { loadSigning } from './load-signing.js'
import type { ResolvedOAuth2Options } from './options.js'
import type { ServerClock } from './server-clock.js'
import type { SigningKey } from './signing.js'

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'

/** A client authentication method, applied to each token or revocation request. */
export interface ClientAuth {
  /**
   * Every form of the secret the method sends on each request (the client secret, its Basic credentials as sent
   * and as some servers echo them), for the errors built from the answers.
   */
  readonly secrets: readonly string[]
  /** Add the client's identity to a request: `client_id` and `client_secret` in the form, or a Basic header. */
  apply(form: URLSearchParams, headers: Record<string, string>): void
  /** The body of one attempt, when it must carry something new each time (a client assertion's `jti`). */
  attempt?: ((form: URLSearchParams) => Promise<{ body: string; secrets: string[] }>) | undefined
}

/** The method the options name, as one value: what it adds to each request, and which secrets that sends. */
export function clientAuthFrom(config: ResolvedOAuth2Options, clock: ServerClock): ClientAuth {
  const { clientId, clientAuthMethod } = config
  const secret = config.clientSecret as string // the secret methods have one (resolveOAuth2Options)
  const identify = (form: URLSearchParams) => form.set('client_id', clientId)
  switch (clientAuthMethod) {
    case 'client_secret_basic':
      // RFC 6749 §2.3.1: each part form-urlencoded first, then Basic (btoa: ASCII only after encoding).
      return {
        secrets: secretForms(clientId, secret),
        apply(_, headers) {
          headers.authorization = `Basic ${basicCredentials(clientId, secret)}`
        },
      }
    case 'client_secret_post':
      return {
        secrets: secretForms(clientId, secret),
        apply(form) {
          identify(form)
          form.set('client_secret', secret)
        },
      }
    case 'private_key_jwt':
      return { secrets: [], apply: identify, attempt: assertions(config, clock) }
    case 'client_secret_jwt':
      // The secret signs and is never sent; it stays in `secrets` all the same, for any answer that would hold it.
      return { secrets: [secret], apply: identify, attempt: assertions(config, clock) }
    default:
      // A public client (RFC 6749 §2.1), or one whose credential is the certificate of its TLS connection
      // (`tls_client_auth`, `self_signed_tls_client_auth`, RFC 8705 §2): only its `client_id`.
      return { secrets: [], apply: identify }
  }
}

/**
 * `private_key_jwt` and `client_secret_jwt` (RFC 7523 §2.2): every attempt, retries included, carries an assertion
 * made for it alone (a fresh `jti`: servers refuse a repeated one), signed with the key, asked of the supplier, or
 * (`client_secret_jwt`) signed HS256 with the client secret's bytes (OpenID Connect Core §9).
 */
function assertions(config: ResolvedOAuth2Options, clock: ServerClock): NonNullable<ClientAuth['attempt']> {
  const { clientId, clientAssertion: supplier, clientAssertionKey: key } = config
  loadSigning().catch(() => undefined) // the first token request rarely waits for it
  let signer: Promise<SigningKey> | undefined
  async function assertion(): Promise<string> {
    if (supplier) {
      const jwt = await supplier()
      if (typeof jwt !== 'string' || jwt.split('.').length !== 3) {
        throw new OptionError('clientAssertion', `expected it to return a JWT, got a ${typeof jwt}`)
      }
      return jwt
    }
    const { clientAssertion, signingKey } = await loadSigning()
    signer ??= (
      config.clientAuthMethod === 'client_secret_jwt'
        ? Promise.resolve({ key: new TextEncoder().encode(config.clientSecret), alg: 'HS256' })
        : signingKey(key as CryptoKey | JsonWebKey)
    ).catch((error: unknown) => {
      signer = undefined
      throw error
    })
    // The issuer identifier, the one audience every endpoint of the server accepts (RFC 7523bis, the OpenID
    // Foundation's 2025 advisory on audience injection): a token endpoint read from metadata could be anyone's.
    // Only a server whose issuer is unknown gets its token endpoint, read now (it may have been discovered since).
    return clientAssertion(
      await signer,
      clientId,
      config.clientAssertionAudience ?? config.issuer ?? config.tokenEndpoint,
      clock.now(),
    )
  }
  return async (form) => {
    const body = new URLSearchParams(form)
    const jwt = await assertion()
    body.set('client_assertion_type', JWT_BEARER)
    body.set('client_assertion', jwt)
    return { body: body.toString(), secrets: [jwt] }
  }
}

/** The client secret, and its Basic credentials with and without the form-encoding (some servers echo either). */
function secretForms(clientId: string, clientSecret: string): string[] {
  return [clientSecret, btoa(`${clientId}:${clientSecret}`), basicCredentials(clientId, clientSecret)]
}

function basicCredentials(clientId: string, clientSecret: string): string {
  return btoa(`${formEncode(clientId)}:${formEncode(clientSecret)}`)
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2)
}
