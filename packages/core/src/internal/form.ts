import * as Either from "effect/Either"
import * as Encoding from "effect/Encoding"
import { ClientConfigurationError } from "../TokenError.js"

/**
 * The `application/x-www-form-urlencoded` serializer of the WHATWG URL standard, which RFC 6749
 * Appendix B prescribes for form bodies and, by §2.3.1, for the client id and secret inside
 * `client_secret_basic` before base64.
 */

const escapeExtra = /[!'()~]/g

/** A UTF-16 surrogate without its pair, which UTF-8 cannot encode. */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g

/**
 * Form-urlencodes one value: UTF-8 percent-encoding, space as `+`, only `*-._` left bare. A lone
 * surrogate becomes U+FFFD, as in `URLSearchParams`, where `encodeURIComponent` alone would throw.
 */
export const formUrlEncode = (value: string): string =>
  encodeURIComponent(value.replace(loneSurrogate, "\uFFFD"))
    .replace(escapeExtra, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, "+")

/** Reverses {@link formUrlEncode}. */
export const formUrlDecode = (value: string): string => decodeURIComponent(value.replace(/\+/g, "%20"))

/** Serialises name/value pairs as a form body, in order. */
export const formBody = (pairs: ReadonlyArray<readonly [string, string]>): string =>
  pairs.map(([name, value]) => `${formUrlEncode(name)}=${formUrlEncode(value)}`).join("&")

/** The `Authorization` value of RFC 6749 §2.3.1 `client_secret_basic`. */
export const basicAuthorization = (clientId: string, clientSecret: string): string =>
  `Basic ${Encoding.encodeBase64(`${formUrlEncode(clientId)}:${formUrlEncode(clientSecret)}`)}`

/** Decodes a `client_secret_basic` value back to id and secret, or `undefined` when malformed. */
export const parseBasicAuthorization = (
  header: string
): { readonly clientId: string; readonly clientSecret: string } | undefined => {
  const match = /^Basic ([A-Za-z0-9+/]+=*)$/.exec(header)
  if (match === null) return undefined
  const decodedEither = Encoding.decodeBase64String(match[1])
  if (Either.isLeft(decodedEither)) return undefined
  const decoded = decodedEither.right
  const colon = decoded.indexOf(":")
  if (colon < 0) return undefined
  try {
    return { clientId: formUrlDecode(decoded.slice(0, colon)), clientSecret: formUrlDecode(decoded.slice(colon + 1)) }
  } catch {
    // A percent-escape that is not UTF-8 (`%E0%A4%A`): malformed, as below.
  }
  return undefined
}

/**
 * Form parameters that an extra parameter may not set: they carry the grant, the client's
 * identity or its credentials, or have a field of their own.
 */
export const reservedParameters: ReadonlySet<string> = new Set([
  "grant_type",
  "client_id",
  "client_secret",
  "client_assertion",
  "client_assertion_type",
  "assertion",
  "scope",
  "resource"
])

/**
 * Refuses an extra parameter named `__proto__`, whatever the path it comes by: an object holds it as
 * its own key only where `JSON.parse` or a computed key made it, and a copy by assignment (Schema's
 * decoding, among others) makes it the copy's prototype instead, so that the parameter would be sent
 * on one path and vanish unseen on another. No OAuth parameter is named so.
 */
export const refusePrototypeParameter = (
  client: string,
  parameters: object | undefined
): ClientConfigurationError | undefined =>
  parameters !== undefined && Object.hasOwn(parameters, "__proto__")
    ? new ClientConfigurationError({
      client,
      field: "parameters.__proto__",
      reason: "is a name that a JavaScript object does not keep through a copy (it becomes the prototype): rename it"
    })
    : undefined
