import { CompactEncrypt, compactDecrypt, decodeProtectedHeader } from 'jose'
import { describe } from '../core/validate.js'
import { OptionError } from '../errors/option-error.js'

// A cookie's value: a JWE (compact, `dir` + `A256GCM`, jose) under a key derived from one of the secrets with
// HKDF-SHA-256 (Web Crypto), bound to the cookie's name; `kid` (derived too) says which secret sealed it.

const encoder = new TextEncoder()
const decoder = new TextDecoder()

interface SealKey {
  kid: string
  key: Uint8Array
}

export interface Sealer {
  seal(payload: object): Promise<string>
  /** The payload, or undefined for anything that is not a cookie one of the secrets sealed. Never throws. */
  open(value: string): Promise<Record<string, unknown> | undefined>
}

/** Check `secrets`: a non-empty array of strings or bytes, each at least 32 bytes. Never echoes one. */
export function parseSecrets(value: unknown): Uint8Array[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new OptionError('secrets', `expected a non-empty array of secrets, got ${describe(value, false)}`)
  }
  return value.map((secret: unknown, i) => {
    const bytes =
      typeof secret === 'string' ? encoder.encode(secret) : secret instanceof Uint8Array ? secret : undefined
    if (!bytes) throw new OptionError('secrets', `entry ${i} is not a string or a Uint8Array`)
    if (bytes.byteLength < 32) {
      throw new OptionError('secrets', `entry ${i} has ${bytes.byteLength} bytes: each needs at least 32`)
    }
    return bytes
  })
}

async function derive(secret: Uint8Array, info: string, bytes: number): Promise<Uint8Array> {
  const material = await crypto.subtle.importKey('raw', secret as Uint8Array<ArrayBuffer>, 'HKDF', false, [
    'deriveBits',
  ])
  const bits = await crypto.subtle.deriveBits(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode('session-fetch/server cookie'),
      info: encoder.encode(info),
    },
    material,
    bytes * 8,
  )
  return new Uint8Array(bits)
}

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '')

export function createSealer(secrets: readonly Uint8Array[], cookieName: string): Sealer {
  let keys: Promise<SealKey[]> | undefined
  const derived = () =>
    (keys ??= Promise.all(
      secrets.map(async (secret) => ({
        key: await derive(secret, `key ${cookieName}`, 32),
        kid: base64url(await derive(secret, `kid ${cookieName}`, 9)),
      })),
    ))
  return {
    async seal(payload) {
      const [first] = await derived()
      const { kid, key } = first as SealKey
      return new CompactEncrypt(encoder.encode(JSON.stringify(payload)))
        .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid })
        .encrypt(key)
    },
    async open(value) {
      try {
        const { kid } = decodeProtectedHeader(value)
        const found = (await derived()).find((candidate) => candidate.kid === kid)
        if (!found) return undefined
        const { plaintext } = await compactDecrypt(value, found.key, {
          keyManagementAlgorithms: ['dir'],
          contentEncryptionAlgorithms: ['A256GCM'],
        })
        const payload = JSON.parse(decoder.decode(plaintext)) as unknown
        return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
          ? (payload as Record<string, unknown>)
          : undefined
      } catch {
        return undefined // tampered, truncated, not a JWE, not JSON: no session
      }
    },
  }
}
