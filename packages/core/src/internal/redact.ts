/**
 * Redaction of response bodies and server-provided text before they reach an error message.
 *
 * A token endpoint that misbehaves may still put a credential in its body (a token in an HTML
 * page, a secret echoed in a description). Anything that looks like one is masked.
 */

const REDACTED = "[redacted]"

/**
 * JSON string members whose names end in a word that says they carry a credential (`access_token`,
 * `client_secret`, but not `token_type`); the closing quote is optional, so
 * that a body cut short in the middle of a token is masked too.
 */
const sensitiveMember =
  /("[^"\\]*(?:token|secret|assertion|password|passwd|key|code|credential)s?"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)/gi

/** Compact JWS / JWE: two or more dot-separated base64url segments. */
const jwt = /\b[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3}/g

/** Long opaque runs of token characters (random handles, keys, base64). */
const opaque = /[A-Za-z0-9+/_~-]{24,}={0,2}/g

/** form-urlencoded or query pairs whose names carry a credential. */
const sensitivePair =
  /\b((?:access_token|refresh_token|id_token|client_secret|client_assertion|password|code)=)[^&\s"']*/gi

/**
 * Masks token-looking values and the given secrets in `text`, then cuts it to `maxLength`
 * characters.
 */
export const redactText = (text: string, secrets: ReadonlyArray<string>, maxLength: number): string => {
  let out = text
  for (const secret of secrets) {
    if (secret.length > 0) out = out.split(secret).join(REDACTED)
  }
  out = out
    .replace(sensitiveMember, `$1"${REDACTED}"`)
    .replace(sensitivePair, `$1${REDACTED}`)
    .replace(jwt, REDACTED)
    .replace(opaque, REDACTED)
  return out.length > maxLength ? `${out.slice(0, maxLength)}…` : out
}
