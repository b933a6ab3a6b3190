import * as AccessToken from "@access-token/core/AccessToken"
import * as DPoP from "@access-token/core/DPoP"
import * as DPoPNonce from "@access-token/core/DPoPNonce"
import * as MutualTls from "@access-token/core/MutualTls"
import type * as TokenEndpointClient from "@access-token/core/TokenEndpointClient"
import type * as TokenService from "@access-token/core/TokenService"
import * as Headers from "@effect/platform/Headers"
import * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import type * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
// The public module's options, errors and metrics, read when a client is built, never while this
// module loads: the two import each other.
import * as AccessTokenHttpClient from "../AccessTokenHttpClient.js"
import * as Rejections from "./rejections.js"
import type { Stages } from "./stages.js"
import { insecureTransport } from "./transport.js"

/** A body that can be sent twice; a stream (or a raw body of unknown kind) is consumed by the first send. */
const isReplayable = (request: HttpClientRequest.HttpClientRequest): boolean =>
  request.body._tag === "Empty" || request.body._tag === "Uint8Array" || request.body._tag === "FormData"

const withoutAuthorization = (request: HttpClientRequest.HttpClientRequest): HttpClientRequest.HttpClientRequest =>
  // Stryker disable next-line ConditionalExpression: a request without the header would be copied as it is
  request.headers.authorization === undefined ? request : HttpClientRequest.make(request.method)(request.url, {
    headers: Headers.remove(request.headers, "authorization"),
    urlParams: request.urlParams,
    hash: Option.getOrUndefined(request.hash),
    body: request.body
  })

const originOf = (url: string): string | undefined => URL.parse(url)?.origin

export const normalizeOrigin = (origin: string | URL): string => {
  // Stryker disable next-line ConditionalExpression: new URL(url) copies a URL, whose origin is the same
  const url = typeof origin === "string" ? new URL(origin) : origin
  return url.origin
}

/**
 * The response a request got, whether the client passed it on or failed with it (`filterStatusOk`).
 * Any other failure of the wrapped client (its own error from `filterOrFail`, a timeout) carries none.
 */
const responseOf = (result: unknown): HttpClientResponse.HttpClientResponse | undefined => {
  if (HttpClientError.isHttpClientError(result)) {
    // Stryker disable next-line ConditionalExpression: a RequestError has no response either
    return result._tag === "ResponseError" ? result.response : undefined
  }
  return Predicate.hasProperty(result, HttpClientResponse.TypeId)
    ? result as HttpClientResponse.HttpClientResponse
    : undefined
}

const isUnauthorized = (result: unknown): boolean => responseOf(result)?.status === 401

/** A resource server's `401` that asks for a DPoP nonce: not a rejection of the token. */
const isNonceChallenge = (result: unknown): boolean => {
  const response = responseOf(result)
  return response !== undefined && DPoPNonce.isChallenge(response)
}

/** A `401` that rejects the token, as opposed to one that asks for a DPoP nonce. */
const isRejection = (result: unknown): boolean => isUnauthorized(result) && !isNonceChallenge(result)

// Stryker disable next-line OptionalChaining: asked only of a nonce challenge, which is a response
const hasNonce = (result: unknown): boolean => responseOf(result)?.headers["dpop-nonce"] !== undefined

const isRedirect = (response: HttpClientResponse.HttpClientResponse): boolean =>
  response.status >= 300 && response.status < 400 && response.status !== 304 &&
  typeof response.headers.location === "string"

/**
 * Sends requests through `inner`'s transport stage with tokens from `tokens`, following
 * redirects as configured. Built once per client.
 */
export const authenticator = <E, R>(
  inner: Stages<E, R>,
  tokens: TokenService.TokenService.Service,
  options: AccessTokenHttpClient.Options | undefined
) => {
  const name = options?.client
  const parameters: TokenEndpointClient.RequestParameters | undefined =
    options?.scope === undefined && options?.resource === undefined && options?.parameters === undefined
      ? undefined
      : { scope: options.scope, resource: options.resource, parameters: options.parameters }
  const allowed = options?.allowedOrigins?.map(normalizeOrigin)
  const allowedSet = allowed === undefined ? undefined : new Set(allowed)
  const maxRedirects = options?.followRedirects ?? 0
  const retried = Metric.tagged(AccessTokenHttpClient.unauthorizedRetries, "client", name ?? "default")
  const getToken = tokens.getToken(name, parameters)
  /** The client's name in messages: as given, or the only one registered. */
  const clientName = name ?? (tokens.clients.length === 1 ? tokens.clients[0]! : "default")
  const guard = Rejections.make(options?.rejectionBackoff ?? AccessTokenHttpClient.defaultRejectionBackoff, clientName)

  const nonceRetried = Metric.tagged(AccessTokenHttpClient.dpopNonceRetries, "client", name ?? "default")
  // The nonces of the DPoP resource servers this client calls, by origin (RFC 9449 §9).
  const nonces = DPoPNonce.unsafeMake()

  /** Remembers the `DPoP-Nonce` of a response, whether it succeeded or failed. */
  const rememberNonce = (url: string) => (result: unknown) => {
    const nonce = responseOf(result)?.headers["dpop-nonce"]
    // Stryker disable next-line ConditionalExpression: update ignores a response without a nonce too
    return nonce === undefined ? Effect.void : nonces.update(url, nonce)
  }

  /**
   * Sends a DPoP token with a new proof for this very request (its method and URL, `ath` of the
   * token, the origin's last nonce) signed with `key`.
   */
  const sendWithProof = (
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken,
    key: DPoP.Key
  ) => {
    // Signed when the wrapped client takes the request, each time it does: a retry inside the
    // middleware (`retryTransient`) sends a proof of its own, as a server refusing replayed `jti`s needs.
    const signed = nonces.get(request.url).pipe(
      Effect.flatMap((nonce) =>
        DPoP.proof(key, { method: request.method, url: request.url, nonce, accessToken: token.value })
      ),
      Effect.map((proof) =>
        HttpClientRequest.setHeaders(request, { authorization: token.authorization, dpop: Redacted.value(proof) })
      )
    )
    return inner.postprocess(signed).pipe(
      Effect.tapBoth({ onFailure: rememberNonce(request.url), onSuccess: rememberNonce(request.url) }),
      DPoP.withRedactedProofs
    )
  }

  const sendWithToken = (
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | AccessTokenHttpClient.AccessTokenError, R> => {
    const binding = AccessToken.bindingOf(token)
    // A certificate-bound token goes only through a client presenting its very certificate: on any
    // other, the API would refuse it, and the 401s would renew good tokens for nothing.
    const certificate = binding?.certificate
    if (certificate !== undefined) {
      const presented = MutualTls.presentedBy(request)
      if (presented !== certificate.thumbprint) {
        return Effect.fail(
          new MutualTls.CertificateNotPresentedError({ client: clientName, presentsAnother: presented !== undefined })
        )
      }
    }
    if (token.type !== "DPoP") {
      return inner.postprocess(
        Effect.succeed(HttpClientRequest.setHeader(request, "authorization", token.authorization))
      )
    }
    // The key the token is bound to, which it carries from the token service: looking the client up
    // again could find a definition replaced meanwhile, or none.
    const key = binding?.key
    if (key !== undefined) return sendWithProof(request, token, key)
    // A DPoP token that came from elsewhere than TokenService.make (a test double): the client's key.
    return Effect.flatMap(tokens.client(name), (client) =>
      client.dpop === undefined
        ? inner.postprocess(Effect.succeed(HttpClientRequest.setHeader(request, "authorization", token.authorization)))
        : sendWithProof(request, token, client.dpop.key))
  }

  const send = (request: HttpClientRequest.HttpClientRequest, token: AccessToken.AccessToken | undefined) =>
    token === undefined
      ? inner.postprocess(Effect.succeed(withoutAuthorization(request)))
      : sendWithToken(request, token)

  /** Where the guard's log lines say the API is: its origin, never a path or a query. */
  const apiOf = (request: HttpClientRequest.HttpClientRequest): string => originOf(request.url) ?? "(unparsable URL)"

  /** Tells the guard whether the API accepted `token` (`rejected`: it did not), and passes the result on. */
  const observe = <A, E2>(
    request: HttpClientRequest.HttpClientRequest,
    token: AccessToken.AccessToken,
    result: Either.Either<A, E2>,
    rejected: boolean
  ): Effect.Effect<A, E2> =>
    rejected
      ? Effect.zipRight(guard.rejected(token, apiOf(request)), result)
      // Nothing to tell on the hot path: no episode, no renewed token waiting to be accepted.
      : guard.isQuiet()
      ? result
      : Effect.zipRight(guard.accepted(token, apiOf(request)), result)

  /**
   * Sends with a token; on a `401`, renews the token the server rejected and sends once more,
   * unless the guard holds renewals back because the API rejects freshly renewed tokens too.
   */
  const authorized = (
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | AccessTokenHttpClient.AccessTokenError, R> =>
    Effect.flatMap(getToken, (token) => {
      // A budget of one nonce retry per request, apart from the renewal's: a request may use both.
      let nonceRetry = true
      const attempt = (token: AccessToken.AccessToken) =>
        Effect.flatMap(Effect.either(send(request, token)), (result) => {
          const outcome = result._tag === "Right" ? result.right : result.left
          if (!nonceRetry || token.type !== "DPoP" || !isNonceChallenge(outcome) || !hasNonce(outcome)) {
            return Effect.succeed(result)
          }
          nonceRetry = false
          return isReplayable(request)
            ? Effect.zipRight(Metric.increment(nonceRetried), Effect.either(send(request, token)))
            : Effect.succeed(result)
        })
      return Effect.flatMap(attempt(token), (result) => {
        const outcome = result._tag === "Right" ? result.right : result.left
        // A nonce challenge says nothing about the token: renewing it would not help.
        if (!isRejection(outcome)) {
          return observe(request, token, result, false)
        }
        return Effect.flatMap(guard.rejected(token, apiOf(request)), (mayRenew) => {
          if (!mayRenew) return result
          const renewal = Effect.tap(tokens.getToken(name, { ...parameters, rejected: token }), (renewed) => {
            guard.renewed(renewed)
          })
          // A body that cannot be sent twice gets its `401`; the rejected token is still renewed, or
          // every request after it would carry it until it expires, and fail the same way.
          if (!isReplayable(request)) return Effect.zipRight(renewal, result)
          return renewal.pipe(
            Effect.tap(() => Metric.increment(retried)),
            Effect.flatMap((renewed) =>
              Effect.flatMap(
                attempt(renewed),
                (result) =>
                  observe(request, renewed, result, isRejection(result._tag === "Right" ? result.right : result.left))
              )
            )
          )
        })
      })
    })

  /**
   * The first hop goes only to an allowed origin; a redirect carries a token only to an allowed
   * origin or, when the client is bound to none, to the origin of the first hop.
   */
  const follow = (
    request: HttpClientRequest.HttpClientRequest,
    redirects: number,
    firstOrigin: string | undefined
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, E | AccessTokenHttpClient.AccessTokenError, R> => {
    // Only an origin binding or a redirect needs the origin: parsing the URL would otherwise be
    // about 40 % of the middleware's own cost per request.
    // Stryker disable next-line ConditionalExpression: the origin, parsed always, would go unread
    const origin = allowedSet === undefined && maxRedirects === 0 ? undefined : originOf(request.url)
    const mayCarry = allowedSet === undefined
      ? redirects === 0 || origin === firstOrigin
      : origin !== undefined && allowedSet.has(origin)
    const insecure = mayCarry ? insecureTransport(request.url, options) : undefined
    const response = insecure !== undefined
      ? Effect.fail(insecure)
      : mayCarry
      ? authorized(request)
      : redirects === 0
      ? Effect.fail(
        new AccessTokenHttpClient.OriginNotAllowedError({
          client: name,
          origin: origin ?? request.url,
          // Stryker disable next-line ArrayDeclaration: only a client bound to origins refuses one, so allowed is set
          allowed: allowed ?? []
        })
      )
      : send(request, undefined)
    if (redirects >= maxRedirects) return response
    return Effect.flatMap(response, (response) => {
      if (!isRedirect(response)) return Effect.succeed(response)
      const location = new URL(response.headers.location!, request.url)
      const next = response.status === 303
        ? HttpClientRequest.setUrl(
          HttpClientRequest.setMethod(HttpClientRequest.setBody(request, HttpBody.empty), "GET"),
          location
        )
        : HttpClientRequest.setUrl(request, location)
      return !isReplayable(next)
        ? Effect.succeed(response)
        : follow(next, redirects + 1, firstOrigin ?? origin)
    })
  }

  return (request: HttpClientRequest.HttpClientRequest) => follow(request, 0, undefined)
}
