// The JWTs an OAuth2 client signs, client assertions (RFC 7523) and DPoP proofs (RFC 9449), and the keys it signs
// them with. Loaded on first use (load-signing.ts): jose's signing code stays out of the entry bundle.
import { base64url, importJWK, SignJWT } from 'jose'
import { OptionError } from '../../errors/option-error.js'
import { algOf, checkKeyPair } from './options.js'

/** A signing key ready for jose, with the `alg` it signs with and the `kid` to name it by. */
export interface SigningKey {
  key: CryptoKey | Uint8Array
  alg: string
  kid?: string | undefined
}

/** A private JWK imported once (a CryptoKey is used as it is), with the `alg` it signs with. */
export async function signingKey(key: CryptoKey | JsonWebKey): Promise<SigningKey> {
  const alg = algOf(key) as string
  if (typeof CryptoKey !== 'undefined' && key instanceof CryptoKey) return { key, alg }
  const jwk = key as JsonWebKey & { kid?: string }
  return { key: await importJWK(jwk as Parameters<typeof importJWK>[0], alg), alg, kid: jwk.kid }
}

/**
 * A client assertion (RFC 7523 §3): `iss` = `sub` = the client id, `aud` the authorization server, a 60 s life from
 * `now` (the server's time, epoch ms) and a `jti` never used before (servers refuse a repeated one).
 */
export function clientAssertion(
  signer: SigningKey,
  clientId: string,
  audience: string,
  now: number,
): Promise<string> {
  const iat = Math.floor(now / 1000)
  return new SignJWT({})
    .setProtectedHeader(signer.kid === undefined ? { alg: signer.alg } : { alg: signer.alg, kid: signer.kid })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + 60)
    .setJti(crypto.randomUUID())
    .sign(signer.key)
}

/** A DPoP key pair with the public JWK its proofs carry. */
export interface ProofKey {
  privateKey: CryptoKey
  alg: string
  jwk: Record<string, string>
}

// The key pairs `dpop: true` can make, by the JWS alg they sign with, ES256 first: what a proof key is made for.
const RSA = { modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]) }
const MADE: Record<string, AlgorithmIdentifier | EcKeyGenParams | RsaHashedKeyGenParams> = {
  ES256: { name: 'ECDSA', namedCurve: 'P-256' },
  ES384: { name: 'ECDSA', namedCurve: 'P-384' },
  ES512: { name: 'ECDSA', namedCurve: 'P-521' },
  EdDSA: { name: 'Ed25519' },
}
for (const bits of ['256', '384', '512']) {
  MADE[`RS${bits}`] = { name: 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}`, ...RSA }
  MADE[`PS${bits}`] = { name: 'RSA-PSS', hash: `SHA-${bits}`, ...RSA }
}

/**
 * The key a DPoP client signs its proofs with: its own key pair, or (`true`) one made now, not extractable, for the
 * algorithms the server lists in `dpop_signing_alg_values_supported` (`supported`, when its metadata was read):
 * ES256 when it is listed (or nothing is), else the first listed that WebCrypto can make. A key pair the server
 * does not take, or a list with nothing this client can make, is an OptionError naming `dpop`, before any request
 * carries a proof. The proof header carries only the members of the public JWK that define the key.
 */
export async function proofKey(
  keyPair: CryptoKeyPair | Promise<CryptoKeyPair> | true,
  supported: unknown,
): Promise<ProofKey> {
  // Only a list of strings says anything; the names in it are the server's and are never shown.
  const listed = Array.isArray(supported) && supported.length > 0 ? (supported as unknown[]) : undefined
  let pair: CryptoKeyPair
  if (keyPair === true) {
    const alg =
      !listed || listed.includes('ES256') ? 'ES256' : listed.find((name) => Object.hasOwn(MADE, String(name)))
    if (alg === undefined) {
      throw new OptionError(
        'dpop',
        `the server lists none of the DPoP algorithms a key pair can be made for (${Object.keys(MADE).join(', ')}) in its dpop_signing_alg_values_supported: give { keyPair } with a key it accepts`,
      )
    }
    pair = (await crypto.subtle.generateKey(MADE[alg as string] as EcKeyGenParams, false, [
      'sign',
      'verify',
    ])) as CryptoKeyPair
  } else {
    pair = checkKeyPair(await keyPair)
    const alg = algOf(pair.privateKey) as string
    if (listed && !listed.includes(alg)) {
      throw new OptionError(
        'dpop',
        `the key pair signs ${alg}, which the server does not list in its dpop_signing_alg_values_supported`,
      )
    }
  }
  const full = await crypto.subtle.exportKey('jwk', pair.publicKey)
  const members = full.kty === 'RSA' ? ['kty', 'n', 'e'] : ['kty', 'crv', 'x', 'y']
  const jwk: Record<string, string> = {}
  for (const name of members) {
    const value = full[name as keyof JsonWebKey]
    if (typeof value === 'string') jwk[name] = value
  }
  return { privateKey: pair.privateKey, alg: algOf(pair.privateKey) as string, jwk }
}

/**
 * A DPoP proof (RFC 9449 §4.2) for one request: `htm`, `htu` (the URL as fetch sends it, without query and
 * fragment), `iat` (`now`, the server's time in epoch ms), a unique `jti`, `ath` (the access token's SHA-256) on
 * resource requests, and the server's `nonce` when one is known.
 */
export async function dpopProof(
  key: ProofKey,
  method: string,
  url: string,
  nonce: string | undefined,
  accessToken: string | undefined,
  now: number,
): Promise<string> {
  // The URL parsed as fetch parses it before sending (§4.3 compares it so, RFC 3986 §6.2.2-3): scheme and host
  // lower-cased, dot segments resolved, spaces and the like percent-encoded, the default port left out.
  const target = new URL(url)
  const claims: Record<string, string> = { htm: method.toUpperCase(), htu: target.origin + target.pathname }
  if (nonce !== undefined) claims.nonce = nonce
  if (accessToken !== undefined) {
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(accessToken))
    claims.ath = base64url.encode(new Uint8Array(digest))
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, typ: 'dpop+jwt', jwk: key.jwk })
    .setIssuedAt(Math.floor(now / 1000))
    .setJti(crypto.randomUUID())
    .sign(key.privateKey)
}
