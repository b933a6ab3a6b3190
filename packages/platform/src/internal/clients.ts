import * as TokenError from "@access-token/core/TokenError"
import * as TokenService from "@access-token/core/TokenService"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
// The public module's errors and constructor, used when a client is built, never while this module
// loads: the two import each other.
import * as AccessTokenHttpClient from "../AccessTokenHttpClient.js"
import { authenticator, normalizeOrigin } from "./authenticator.js"
import { stages } from "./stages.js"
import { withoutRequestsInSpans } from "./tracing.js"
import { insecureTransport } from "./transport.js"

/** See `AccessTokenHttpClient.withAccessToken`: the token service is the one of each request's context. */
export const withAccessToken = <E, R>(
  self: HttpClient.HttpClient.With<E, R>,
  options?: string | AccessTokenHttpClient.Options
): HttpClient.HttpClient.With<E | AccessTokenHttpClient.AccessTokenError, R | TokenService.TokenService> => {
  const resolved = typeof options === "string" ? { client: options } : options
  // The platform's span of a request would keep it, token included: this one keeps its outcome.
  const inner = withoutRequestsInSpans(stages(self))
  // One authenticator per token service: in practice one for the life of the client.
  const authenticators = new WeakMap<
    TokenService.TokenService.Service,
    (
      request: HttpClientRequest.HttpClientRequest
    ) => Effect.Effect<HttpClientResponse.HttpClientResponse, E | AccessTokenHttpClient.AccessTokenError, R>
  >()
  const authenticate = (request: HttpClientRequest.HttpClientRequest) =>
    Effect.flatMap(TokenService.TokenService, (tokens) => {
      let authenticate = authenticators.get(tokens)
      if (authenticate === undefined) {
        authenticate = authenticator(inner, tokens, resolved)
        authenticators.set(tokens, authenticate)
      }
      return authenticate(request)
    })
  return HttpClient.makeWith((request) => Effect.flatMap(request, authenticate), inner.preprocess)
}

/** The authenticated client a layer provides: base URL, customisation, then authentication. */
export const build = (options: AccessTokenHttpClient.LayerOptions) =>
  Effect.gen(function*() {
    const tokens = yield* TokenService.TokenService
    let client = yield* HttpClient.HttpClient
    if (options.baseUrl !== undefined) {
      const baseUrl = options.baseUrl.toString()
      // Refused here, where it is configured, rather than on every request.
      const insecure = insecureTransport(baseUrl, options)
      if (insecure !== undefined) return yield* Effect.fail(insecure)
      // An absolute URL is left alone, so that the origin guard sees where it really goes.
      client = HttpClient.mapRequest(
        client,
        (request) => URL.canParse(request.url) ? request : HttpClientRequest.prependUrl(request, baseUrl)
      )
    }
    if (options.transformClient !== undefined) client = options.transformClient(client)
    const allowedOrigins = options.allowedOrigins ??
      (options.baseUrl === undefined ? undefined : [normalizeOrigin(options.baseUrl.toString())])
    return AccessTokenHttpClient.make(client, tokens, { ...options, allowedOrigins })
  })

/**
 * `RequestError`'s own message leads with its reason (`Transport: ...`), which sends whoever reads
 * the log to the API: this one leads with the token that could not be had, the request last.
 */
class NoTokenError extends HttpClientError.RequestError {
  override get message(): string {
    // No query, no fragment, and no userinfo (RFC 9110 §4.2.4): a password in the URL stays out of the log.
    const url = this.request.url.split(/[?#]/)[0]!.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/]*@/, "$1")
    return `${this.description}; the API was not called (${this.request.method} ${url})`
  }
}

/**
 * What `HttpClient.retryTransient` sees: it retries a `Transport` reason, so only a token failure
 * that a later attempt may mend is one. A request the middleware refuses to send as configured, or
 * a token the endpoint will not give, would fail again the same way.
 */
const reasonOf = (error: AccessTokenHttpClient.AccessTokenError): HttpClientError.RequestError["reason"] => {
  if (error._tag === "OriginNotAllowedError" || error._tag === "InsecureTransportError") return "InvalidUrl"
  // Stryker disable next-line ConditionalExpression,LogicalOperator,StringLiteral: isRetryable says no to these too
  if (error._tag === "CertificateNotPresentedError" || error._tag === "UnknownClientError") return "Encode"
  return TokenError.isRetryable(error) ? "Transport" : "Encode"
}

// Stryker disable next-line Regex: no token error's message starts with an acronym yet; the anchor keeps one whole
const lowerFirst = (s: string) => /^[A-Z][a-z]/.test(s) ? s[0]!.toLowerCase() + s.slice(1) : s

/** What failed, in the words of the token error, with the client named once, up front. */
const noToken = (error: AccessTokenHttpClient.AccessTokenError, name: string | undefined): string => {
  // These refuse to send a token the client has: "No token" would send the reader to the token endpoint.
  if (
    error._tag === "OriginNotAllowedError" || error._tag === "InsecureTransportError" ||
    error._tag === "CertificateNotPresentedError"
  ) return error.message
  const client = Predicate.hasProperty(error, "client") && typeof error.client === "string" ? error.client : name
  if (client === undefined) return `No token: ${lowerFirst(error.message)}`
  const quoted = `client "${client}"`
  const text = error.message
    .replace(`Client "${client}" `, "it ")
    .replace(` refused ${quoted} with`, " refused it with")
    .replace(` sent ${quoted} `, " sent it ")
  return `No token for ${quoted}: ${lowerFirst(text)}`
}

/** A client of the `HttpClient` tag, which fails only with `HttpClientError`: token failures become `RequestError`s. */
export const asHttpClient = (
  client: HttpClient.HttpClient.With<HttpClientError.HttpClientError | AccessTokenHttpClient.AccessTokenError>,
  name: string | undefined
): HttpClient.HttpClient => {
  const { postprocess, preprocess } = stages(client)
  return HttpClient.makeWith(
    (request) =>
      Effect.flatMap(request, (request) =>
        postprocess(Effect.succeed(request)).pipe(
          Effect.catchIf(
            (error): error is AccessTokenHttpClient.AccessTokenError => !HttpClientError.isHttpClientError(error),
            (error) =>
              Effect.fail(
                new NoTokenError({ request, reason: reasonOf(error), cause: error, description: noToken(error, name) })
              )
          )
        )),
    preprocess as HttpClient.HttpClient.Preprocess<HttpClientError.HttpClientError, never>
  )
}
