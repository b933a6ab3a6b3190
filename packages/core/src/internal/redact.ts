/**
 * Redaction of response bodies and server-provided text before they reach an error message.
 *
 * A token endpoint that misbehaves may still put a credential in its body (a token in an HTML
 * page, a secret echoed in a description). Anything that looks like one is masked; what reads as
 * an identifier (`id_token_signed_response_alg`, `client_secret_basic`, `jwt-bearer`) is kept, since
 * it is usually the very thing that tells the reader what is misconfigured.
 */
import { formUrlEncode } from "./form.js"

const REDACTED = "[redacted]"

/**
 * JSON string members whose names end in a word that says they carry a credential (`access_token`,
 * `client_secret`, but not `token_type`); the closing quote is optional, so
 * that a body cut short in the middle of a token is masked too.
 */
const sensitiveMember =
  /("[^"\\]*(?:token|secret|assertion|password|passwd|key|code|credential)s?"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|\\?$)/gi

/** form-urlencoded or query pairs whose names carry a credential. */
const sensitivePair =
  /\b((?:access_token|refresh_token|id_token|client_secret|client_assertion|password|code)=)[^&\s"']*/gi

/** Compact JWS / JWE: two or more dot-separated base64url segments. */
const jwt = /\b[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(?:\.[A-Za-z0-9_-]*){1,3}/g

/** Long runs of token characters: random handles, keys, base64, or long identifiers. */
const longRun = /[A-Za-z0-9+/_~-]{24,}={0,2}/g

/**
 * One word of an identifier: a word of at most 20 letters of one case, optionally followed by a
 * short number (`es256`, `sha256`, `v2`), or a short number alone.
 */
const lowerWord = /^(?:[a-z]{1,20}[0-9]{0,4}|[0-9]{1,4})$/
const upperWord = /^(?:[A-Z]{1,20}[0-9]{0,4}|[0-9]{1,4})$/

/**
 * Whether a run of token characters reads as an identifier: words of one case joined by `_`, `-`,
 * `.` or `/` (a path). A random run of 24 characters or more almost never does: it mixes cases
 * and digits inside its words, or has a word longer than any English one.
 */
const isIdentifier = (run: string): boolean => {
  const words = run.split(/[_./~+-]+/).filter((word) => word.length > 0)
  return words.length > 0 &&
    (words.every((word) => lowerWord.test(word)) || words.every((word) => upperWord.test(word)))
}

/**
 * The characters a value is made of. A secret counts as standing alone where neither of its ends
 * touches one of these, so `client_secret_basic` is kept with a secret `secret` or `s`.
 */
const wordCharacter = /[\p{L}\p{N}_-]/u

/** A percent-escape (`%3D` is `=`) ends a word, though its last character is a word character. */
const percentEscape = /%[0-9A-Fa-f]{2}$/

const isWordCharacter = (c: string | undefined): boolean => c !== undefined && wordCharacter.test(c)

/**
 * How long a secret's form must be to be masked even inside a word: at that length it does not
 * occur by chance, so wherever it appears it was put there, glued to other text or not.
 */
const unmistakableLength = 12

/**
 * Whether the occurrence of `form` at `start` in `text` is masked: it stands as a whole value, not
 * inside a word, or it is too long to be there by chance.
 */
const mustMask = (text: string, start: number, form: string): boolean => {
  if (form.length >= unmistakableLength) return true
  const end = start + form.length
  // `substring`, unlike `slice`, reads a negative start as 0: the three characters before, or fewer.
  const openBefore = !isWordCharacter(form[0]) || !isWordCharacter(text[start - 1]) ||
    percentEscape.test(text.substring(start - 3, start))
  const openAfter = !isWordCharacter(form[form.length - 1]) || !isWordCharacter(text[end])
  return openBefore && openAfter
}

/** JSON string escaping without the quotes: how a secret appears in a raw JSON body. */
const jsonEscaped = (secret: string): string => JSON.stringify(secret).slice(1, -1)

/**
 * Every form in which `secrets` may be shown: as given, form-urlencoded, percent-encoded and
 * JSON-escaped; the longest first, so that a form containing another is masked whole.
 */
const secretForms = (secrets: ReadonlyArray<string>): ReadonlyArray<string> => {
  const forms = new Set<string>()
  for (const secret of secrets) {
    if (secret.length === 0) continue
    forms.add(secret)
    forms.add(formUrlEncode(secret))
    forms.add(jsonEscaped(secret))
    try {
      forms.add(encodeURIComponent(secret))
    } catch {
      // A lone surrogate: `formUrlEncode` already gave the form a URL would carry.
    }
  }
  return Array.from(forms).sort((a, b) => b.length - a.length)
}

/**
 * Masks every occurrence of a secret's form that stands as a whole value, however short, and every
 * occurrence of a long one. A short secret inside a longer word is left alone: it is there by
 * chance (`s` in `client_secret_basic`), and masking it would garble the text and spell the
 * secret out by the masked positions.
 */
const maskSecrets = (text: string, forms: ReadonlyArray<string>): string => {
  if (forms.length === 0) return text
  const spans: Array<readonly [number, number]> = []
  for (const form of forms) {
    for (let at = text.indexOf(form); at >= 0; at = text.indexOf(form, at + 1)) {
      if (mustMask(text, at, form)) spans.push([at, at + form.length])
    }
  }
  if (spans.length === 0) return text
  // Longest first at each start, then left to right; an occurrence overlapping a masked one is
  // merged into it, so no part of either is left showing.
  spans.sort((a, b) => a[0] - b[0] || b[1] - a[1])
  let out = ""
  let position = 0
  let open: [number, number] | undefined
  for (const [start, end] of spans) {
    if (open !== undefined && start <= open[1]) {
      open[1] = Math.max(open[1], end)
      continue
    }
    if (open !== undefined) {
      out += REDACTED
      position = open[1]
    }
    out += text.slice(position, start)
    open = [start, end]
  }
  out += REDACTED
  return out + text.slice(open![1])
}

/** Every mask of {@link redactText}, over the whole of `text`. */
const masked = (text: string, forms: ReadonlyArray<string>): string =>
  maskSecrets(text, forms)
    .replace(sensitiveMember, `$1"${REDACTED}"`)
    .replace(sensitivePair, `$1${REDACTED}`)
    .replace(jwt, (run) => run.split(".").every(isIdentifier) ? run : REDACTED)
    .replace(longRun, (run) => isIdentifier(run) ? run : REDACTED)

/**
 * How much larger a masked text can be than its source, at most: a one-character secret becomes
 * `[redacted]`, an empty credential member `"[redacted]"`.
 */
const maxGrowth = 12

/**
 * Masks the given secrets, credential members and pairs, JWTs and long random runs in `text`, then
 * cuts it to `maxLength` characters.
 */
export const redactText = (text: string, secrets: ReadonlyArray<string>, maxLength: number): string => {
  const forms = secretForms(secrets)
  const cut = (out: string) => out.length > maxLength ? `${out.slice(0, maxLength)}…` : out
  // Only the first `maxLength` characters are shown, and masking all of a body of a megabyte costs
  // time for nothing. A window is masked instead when what it shows provably began at least
  // `context` characters before the window's end, so that a secret, a member or a run starting in
  // what is shown was seen whole (or, for a run, long enough to be masked as one). Otherwise, the
  // masks having shrunk the window's text, the whole text is masked.
  const context = Math.max(256, (forms[0]?.length ?? 0) + 8)
  const window = maxLength + 32 * context
  if (text.length > window) {
    const out = masked(text.slice(0, window), forms)
    if (out.length - maxLength >= maxGrowth * context) return cut(out)
  }
  return cut(masked(text, forms))
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
    // Not JSON: no shape, as below.
  }
  return undefined
}
