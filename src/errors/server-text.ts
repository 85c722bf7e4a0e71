// Text a server wrote (a reason phrase, an error body's fields, a header value), made safe to show in a message.
// Only the session call and what it throws load this: it is no part of the request path.
import { REDACTED, redact } from './redact.js'

/**
 * Every form in which a server may echo a secret it was sent: as sent, percent-encoded (a URI component, and the
 * form encoding, with upper- and lower-case hex), and JSON-escaped (also with `/` escaped and non-ASCII as
 * `\uXXXX`, as some servers write it). Longest first, so that a secret inside another one does not break it up
 * before it is replaced. Secrets shorter than 4 characters are left out (they would mangle every message).
 */
export function secretForms(secrets: Iterable<string | undefined>): string[] {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (typeof secret !== 'string' || secret.length < 4) continue
    const json = JSON.stringify(secret).slice(1, -1)
    const encoded = [encodeURIComponent(secret), new URLSearchParams({ v: secret }).toString().slice(2)]
    for (const form of [
      secret,
      ...encoded,
      ...encoded.map((text) => text.replace(/%[\dA-F]{2}/g, (hex) => hex.toLowerCase())),
      json,
      json.replaceAll('/', '\\/'),
      json.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    ]) {
      forms.add(form)
    }
  }
  return [...forms].sort((a, b) => b.length - a.length)
}

// The characters of a token (RFC 6750 b64token, a JWT's dots): a cut never falls inside a run of them.
const TOKEN_CHAR = /[\w.~+/=-]/
// C0 and C1 controls and DEL: a message is one line, and a server's text must not drive a terminal.
const CONTROLS = /[^\x20-\x7e\xa0-\uffff]/g

/**
 * At most about `max` characters of `text` (what a server wrote), every form of a secret and every token-shaped
 * run redacted. Only the start of `text` is read, so the work is bounded whatever its length: up to `max`, plus
 * the length of the longest form around the cut, to see whether a secret crosses it. The cut is moved back to
 * before any secret and any token-like run that crosses it, so that neither leaves its first characters behind
 * (a JWT cut in the middle would no longer look like one). A cut text ends with `…`.
 */
export function excerpt(text: string, max: number, forms: readonly string[]): string {
  let cut = text.length
  if (cut > max) {
    cut = max
    for (let moved = true; moved && cut > 0; ) {
      moved = false
      for (const form of forms) {
        // An occurrence of `form` that starts before the cut and ends after it.
        const from = Math.max(0, cut - form.length + 1)
        const at = text.slice(from, cut + form.length - 1).indexOf(form)
        if (at !== -1 && from + at < cut) {
          cut = from + at
          moved = true
        }
      }
      while (cut > 0 && TOKEN_CHAR.test(text.charAt(cut - 1)) && TOKEN_CHAR.test(text.charAt(cut))) {
        cut--
        moved = true
      }
    }
  }
  const shown = redact(text.slice(0, cut), forms).replace(CONTROLS, ' ')
  return cut < text.length ? `${shown}…` : shown
}

/**
 * An origin a server named (a redirect's Location, the URL a transport ended on), fit for a message: host names
 * are lower-cased, so a secret is looked for in lower case too.
 */
export function shownOrigin(origin: string, forms: readonly string[]): string {
  const lower = forms.map((form) => form.toLowerCase())
  const shown = excerpt(origin, 200, [...forms, ...lower])
  return shown.includes(REDACTED) ? REDACTED : shown
}
