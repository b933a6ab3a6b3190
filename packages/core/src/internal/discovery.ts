/**
 * The protocol side of authorization server metadata: where the documents are (RFC 8414 §3.1,
 * OpenID Connect Discovery 1.0 §4), how a body becomes a document, when a document may be used,
 * and how long it may be kept.
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
// The public module's error, made when a document or an issuer is judged, never while this module
// loads: the public module reaches this one through its retrieval.
import { InvalidMetadataError } from "../AuthorizationServerMetadata.js"
import type { ClientCredentialsClient } from "../ClientCredentialsClient.js"
import { Metadata } from "./metadataDocument.js"
import { mtlsTarget } from "./mutualTls.js"
import { redactText } from "./redact.js"
import type { Target } from "./tokenRequest.js"
import { isLoopback } from "./transport.js"

/**
 * The two well-known locations: RFC 8414's `oauth-authorization-server` and OpenID Connect's
 * `openid-configuration`.
 */
export type WellKnown = "oauth-authorization-server" | "openid-configuration"

/**
 * Where the metadata of `issuer` is published. RFC 8414 inserts its well-known segment between the
 * host and the issuer's path; OpenID Connect appends its own to the path. Both drop a terminating
 * `/` of the path first, so `https://as.example/` and `https://as.example` have the same locations.
 */
export const wellKnownUrl = (issuer: URL, wellKnown: WellKnown): string => {
  const path = issuer.pathname.endsWith("/") ? issuer.pathname.slice(0, -1) : issuer.pathname
  return wellKnown === "oauth-authorization-server"
    ? `${issuer.origin}/.well-known/oauth-authorization-server${path}`
    : `${issuer.origin}${path}/.well-known/openid-configuration`
}

/**
 * The issuer identifier a `URL` object stands for: its `href`, except for a root path. A URL object
 * does not remember whether a root path was written: `href` always ends one in the `/` the parser
 * adds, although most services publish their root issuer without it (`https://login.example.com`).
 * So a root path is read as no path, and `new URL("https://login.example.com")` is the issuer
 * `https://login.example.com`; an issuer published with a trailing `/` on its root is configured as
 * that string. Any other path is kept as the parser wrote it.
 */
export const issuerOfUrl = (url: URL): string =>
  // `href` ends in the root's `/` only without a query or fragment, even an empty one (`...com/?`).
  url.pathname === "/" && url.href.endsWith("/") ? url.href.slice(0, -1) : url.href

/**
 * Parses an issuer identifier (RFC 8414 §2: an `https` URL with no query or fragment; plain `http`
 * only on loopback or when allowed, since whoever can change the document decides where the
 * client sends its credentials).
 */
export const parseIssuer = (
  issuer: string,
  allowInsecureTransport: boolean
): Either.Either<URL, InvalidMetadataError> => {
  const invalid = (description: string, shown = issuer) =>
    // Stryker disable next-line ArrayDeclaration: no secret is known here; one made up never occurs in the issuer
    Either.left(new InvalidMetadataError({ issuer: redactText(shown, [], 200), reason: "Issuer", description }))
  if (!URL.canParse(issuer)) return invalid("must be an absolute URL")
  const url = new URL(issuer)
  // First, and shown without them: a user name or password is a secret, which no message quotes.
  if (url.username !== "" || url.password !== "") {
    return invalid(
      "must not hold credentials",
      `${url.protocol}//[redacted]@${url.host}${url.pathname}${url.search}${url.hash}`
    )
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return invalid("must be an https URL")
  // The text, not the parsed URL: an empty query or fragment (`https://as.example.com/?`) leaves
  // `search` and `hash` empty, and no URL has a query or fragment without a `?` or `#` in its text.
  if (issuer.includes("?") || issuer.includes("#")) return invalid("must have no query or fragment (RFC 8414 §2)")
  if (url.protocol === "http:" && !isLoopback(url) && !allowInsecureTransport) {
    return invalid(
      `plain http to ${url.host} would let anyone on the network choose where the credentials go: use https, or set allowInsecureTransport`
    )
  }
  return Either.right(url)
}

/**
 * Drops members named `__proto__` wherever they are: `JSON.parse` keeps one as a plain member, but
 * a decoder that copies members one by one (as `Schema` does for the members it does not know)
 * would give the copy that prototype.
 */
const withoutProto = (key: string, value: unknown): unknown => key === "__proto__" ? undefined : value

/** A JSON object, or why the body is not one (never quoting it). */
export const parseObject = (text: string): Record<string, unknown> | string => {
  if (text.trim().length === 0) return "the body is empty"
  let json: unknown
  try {
    json = JSON.parse(text, withoutProto)
  } catch {
    return "the body is not valid JSON"
  }
  return json !== null && typeof json === "object" && !Array.isArray(json)
    ? json as Record<string, unknown>
    : "the body is not a JSON object"
}

const decodeMetadata = Schema.decodeUnknownEither(Metadata, { errors: "all" })

/**
 * Names what is wrong with a document without quoting any of its values, each member once: an
 * optional member of the wrong type fails both its type and `undefined`, an issue for each.
 */
const describeIssues = (error: ParseResult.ParseError): string => {
  const issues = ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => {
    const field = issue.path.map(String).join(".")
    return issue._tag === "Missing" ? `${field} is missing` : `${field} has the wrong type`
  })
  return Array.from(new Set(issues)).join("; ")
}

/**
 * Decodes a document and checks that it may be used for `issuer`: its `issuer` is exactly the
 * configured one (RFC 8414 §3.3, OpenID Connect Discovery §4.3: a document another issuer
 * published could send the credentials anywhere), and its token endpoint, if any, keeps them off
 * the network in clear.
 */
export const decodeDocument = (
  issuer: string,
  location: string,
  body: Record<string, unknown>,
  allowInsecureTransport: boolean
): Either.Either<typeof Metadata.Type, InvalidMetadataError> => {
  const invalid = (reason: "IssuerMismatch" | "Malformed" | "InsecureEndpoint", description: string) =>
    Either.left(new InvalidMetadataError({ issuer, location, reason, description }))
  const decoded = decodeMetadata(body)
  if (Either.isLeft(decoded)) return invalid("Malformed", describeIssues(decoded.left))
  const metadata = decoded.right
  if (metadata.issuer !== issuer) {
    // Stryker disable next-line ArrayDeclaration: no secret is known here; one made up never occurs in the issuer
    const published = JSON.stringify(redactText(metadata.issuer, [], 200))
    // The usual slip (a URL object's root path, or a slash typed or forgotten): say how to fix it.
    const slashOnly = metadata.issuer.replace(/\/$/, "") === issuer.replace(/\/$/, "")
    return invalid(
      "IssuerMismatch",
      `the document is for issuer ${published}: it must name the configured issuer exactly, character for character (RFC 8414 §3.3)${
        slashOnly ? `; the two differ by a trailing slash only: configure the issuer as the string ${published}` : ""
      }`
    )
  }
  if (metadata.token_endpoint !== undefined) {
    const endpoint = URL.canParse(metadata.token_endpoint) ? new URL(metadata.token_endpoint) : undefined
    if (endpoint === undefined || (endpoint.protocol !== "https:" && endpoint.protocol !== "http:")) {
      return invalid("Malformed", "token_endpoint must be an absolute http(s) URL")
    }
    if (endpoint.protocol === "http:" && !isLoopback(endpoint) && !allowInsecureTransport) {
      return invalid(
        "InsecureEndpoint",
        `the token endpoint is plain http to ${endpoint.host}, which would send credentials in clear`
      )
    }
  }
  return Either.right(metadata)
}

/**
 * How long a response may be kept, from its `Cache-Control` header: `max-age` in seconds, zero
 * for `no-store` and `no-cache`, `undefined` when the header says nothing about it.
 */
export const maxAgeOf = (cacheControl: string | undefined): Duration.Duration | undefined => {
  if (cacheControl === undefined) return undefined
  let maxAge: Duration.Duration | undefined
  for (const directive of cacheControl.split(",")) {
    const [name, value] = directive.trim().toLowerCase().split("=", 2) as [string, string | undefined]
    if (name === "no-store" || name === "no-cache") return Duration.zero
    if (name === "max-age" && value !== undefined) {
      const seconds = value.replace(/^"|"$/g, "")
      if (/^\d+$/.test(seconds)) maxAge = Duration.seconds(Number(seconds))
    }
  }
  return maxAge
}

/**
 * Where a client configured by `issuer` sends its token requests, from the issuer's document, when
 * this client can use it: the document names a token endpoint, and the one the client sends to (its
 * `mtls_endpoint_aliases` entry, for a certificate-authenticated client) is an absolute URL that
 * keeps the credentials off the network in clear under the client's own rule. A document it cannot
 * use is an error, which the metadata cache treats as a failed retrieval: the last good document is
 * kept.
 */
export const targetOf = (
  client: ClientCredentialsClient,
  issuer: string,
  discovered: { readonly metadata: typeof Metadata.Type; readonly location: string }
): Either.Either<Target, InvalidMetadataError> => {
  const invalid = (reason: "Malformed" | "InsecureEndpoint", description: string) =>
    Either.left(new InvalidMetadataError({ issuer, reason, location: discovered.location, description }))
  const { metadata } = discovered
  const tokenEndpoint = metadata.token_endpoint
  if (tokenEndpoint === undefined) {
    return invalid("Malformed", "token_endpoint is missing: the document names no token endpoint")
  }
  const target: Target = { tokenEndpoint, issuer, metadata }
  const sentTo = mtlsTarget(client, target).tokenEndpoint
  const member = sentTo === tokenEndpoint ? "token_endpoint" : "mtls_endpoint_aliases.token_endpoint"
  const url = URL.canParse(sentTo) ? new URL(sentTo) : undefined
  if (url === undefined || (url.protocol !== "https:" && url.protocol !== "http:")) {
    return invalid("Malformed", `${member} must be an absolute http(s) URL`)
  }
  if (url.protocol === "http:" && !isLoopback(url) && !client.allowInsecureTransport) {
    return invalid(
      "InsecureEndpoint",
      `${member} is plain http to ${url.host}, which would send the client's credentials in clear: use https, or set allowInsecureTransport`
    )
  }
  return Either.right(target)
}
