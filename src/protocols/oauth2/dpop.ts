// DPoP (RFC 9449): one key pair per protocol instance, and the last nonce each origin gave (§8, §9).
import { parseWWWAuthenticate } from '../../core/challenges.js'
import type { SessionProtocol } from '../../core/protocol.js'
import { loadSigning } from './load-signing.js'
import type { ServerClock } from './server-clock.js'
import type { ProofKey } from './signing.js'

/** The headers of an answer, read by name. */
type Header = (name: string) => string | null | undefined

/** A client's DPoP key pair with the nonces the servers gave it. */
export interface Dpop {
  /**
   * Settles once the key pair is ready for the algorithms the server lists: rejects (an OptionError naming `dpop`)
   * when they have none in common. Asked before each token request, so that no request goes out without it.
   */
  ready(): Promise<unknown>
  /** A proof for one attempt: a new `jti`, `ath` when it presents an access token, the origin's nonce if any. */
  proofFor(method: string, url: string, accessToken?: string): Promise<string>
  /** Keep the nonce an answer gives (§8.2: any answer may bring a new one); true when it gave one. */
  nonceFrom(url: string, header: Header): boolean
  /** A token endpoint's 400 `use_dpop_nonce` with a `DPoP-Nonce` (§8): to be sent again with the nonce. */
  tokenChallenge(url: string): (response: Response, body: unknown) => boolean
  /** A resource server's 401 `use_dpop_nonce` with a `DPoP-Nonce` (§9): to be sent again with the nonce. */
  challenged: NonNullable<SessionProtocol['challenged']>
}

/**
 * The DPoP handle of one `oauth2()` instance. Its key is ready on the first proof: with `true`, a key pair is made
 * then, for the algorithms the server's metadata lists (`algs`, read then).
 */
export function createDpop(
  keyPair: CryptoKeyPair | Promise<CryptoKeyPair> | true,
  algs: () => unknown,
  clock: ServerClock,
): Dpop {
  loadSigning().catch(() => undefined) // the first token request rarely waits for it
  let proofKey: Promise<ProofKey> | undefined
  const nonces = new Map<string, string>()
  const nonceFrom = (url: string, header: Header): boolean => {
    const nonce = header('dpop-nonce')
    if (nonce) nonces.set(new URL(url).origin, nonce)
    return !!nonce
  }
  const key = async (): Promise<ProofKey> => {
    const signing = await loadSigning()
    proofKey ??= signing.proofKey(keyPair, algs()).catch((error: unknown) => {
      proofKey = undefined
      throw error
    })
    return proofKey
  }
  return {
    ready: key,
    async proofFor(method, url, accessToken) {
      const signing = await loadSigning()
      const signer = await key()
      return signing.dpopProof(signer, method, url, nonces.get(new URL(url).origin), accessToken, clock.now())
    },
    nonceFrom,
    tokenChallenge: (url) => (response, body) =>
      nonceFrom(url, (name) => response.headers.get(name)) &&
      response.status === 400 &&
      (body as { error?: unknown } | undefined)?.error === 'use_dpop_nonce',
    challenged: (url, answer) =>
      nonceFrom(url, answer.header) &&
      answer.status === 401 &&
      parseWWWAuthenticate(answer.header('www-authenticate') ?? '').some(
        (challenge) => challenge.scheme === 'dpop' && challenge.params.error === 'use_dpop_nonce',
      ),
  }
}
