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

/** How deep a JSON body is shown; anything deeper is elided, so that no body can exhaust the stack. */
const maxDepth = 8

const maskValues = (value: unknown, depth: number): unknown => {
  if (typeof value === "string") return REDACTED
  if (value === null || typeof value !== "object") return value
  if (depth >= maxDepth) return "…"
  if (Array.isArray(value)) return value.map((item) => maskValues(item, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [name, member] of Object.entries(value)) {
    Object.defineProperty(out, name, { value: maskValues(member, depth + 1), enumerable: true })
  }
  return out
}

/**
 * The shape of a JSON or form-urlencoded body with every string value masked, or `undefined` when
 * the body is neither. A success response that is not a token response is shown this way: it is
 * where a token is most likely to be, whatever member, array or nesting the server put it in.
 */
export const maskedShape = (text: string, form: boolean): string | undefined => {
  if (form) {
    return Array.from(new URLSearchParams(text).keys(), (name) => `${name}=${REDACTED}`).join("&")
  }
  try {
    return JSON.stringify(maskValues(JSON.parse(text), 0))
  } catch {
    return undefined
  }
}
