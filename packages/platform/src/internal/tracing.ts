import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as UrlParams from "@effect/platform/UrlParams"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as FiberRef from "effect/FiberRef"
import { constTrue } from "effect/Function"
import type * as Tracer from "effect/Tracer"
import type { Stages } from "./stages.js"

/**
 * The `http.client` span of an authenticated request, without the request in it.
 *
 * `@effect/platform`'s own span ends with the response, which keeps its request, whose
 * `Authorization` header holds the token: any exporter or span processor that walks a span's exit
 * reaches it. This span has the same name, kind and attributes (headers redacted by
 * `Headers.currentRedactedNames`, trace context propagated), and ends with the status code alone,
 * or with a failure that names the error without holding the request.
 */

/** What a failed request's span ends with: the error's kind and message, not the error. */
class RequestFailed {
  readonly _tag = "RequestFailed"
  constructor(readonly kind: string, readonly message: string) {}
}

const withoutUserinfo = (url: URL): string => {
  const copy = new URL(url)
  copy.username = ""
  copy.password = ""
  return copy.href
}

const annotateRequest = (
  span: Tracer.Span,
  request: HttpClientRequest.HttpClientRequest,
  url: URL,
  redacted: ReadonlyArray<string | RegExp>
) => {
  span.attribute("http.request.method", request.method)
  span.attribute("server.address", url.origin)
  if (url.port !== "") span.attribute("server.port", +url.port)
  // Never the userinfo (OpenTelemetry's semantic conventions: a password in the URL is a secret).
  // Stryker disable next-line ConditionalExpression,StringLiteral: a URL without userinfo is copied as it is
  const full = url.username === "" && url.password === "" ? url.href : withoutUserinfo(url)
  span.attribute("url.full", full)
  span.attribute("url.path", url.pathname)
  span.attribute("url.scheme", url.protocol.slice(0, -1))
  const query = url.search.slice(1)
  if (query !== "") span.attribute("url.query", query)
  const headers = Headers.redact(request.headers, redacted)
  for (const name in headers) span.attribute(`http.request.header.${name}`, String(headers[name]))
}

/**
 * `request` the first time the wrapped client takes it, `again` every later time: a retry inside
 * the wrapped client (`retryTransient`) evaluates its request anew, and a DPoP request must then be
 * signed anew, as a server refusing replayed proofs would refuse the first one's.
 */
const firstThen = <E, R>(
  request: HttpClientRequest.HttpClientRequest,
  again: Effect.Effect<HttpClientRequest.HttpClientRequest, E, R>
): Effect.Effect<HttpClientRequest.HttpClientRequest, E, R> => {
  let taken = false
  return Effect.suspend(() => {
    if (taken) return again
    taken = true
    return Effect.succeed(request)
  })
}

/** `inner`, its requests traced by a span that never holds them. */
export const withoutRequestsInSpans = <E, R>(inner: Stages<E, R>): Stages<E, R> => ({
  preprocess: inner.preprocess,
  postprocess: (effect) =>
    Effect.flatMap(
      effect,
      (request) =>
        Effect.withFiberRuntime<HttpClientResponse.HttpClientResponse, E, R>((fiber) => {
          if (
            !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
            fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
          ) {
            return inner.postprocess(firstThen(request, effect))
          }
          // Parsed only for a span: untraced, the URL would be about a tenth of the middleware's cost.
          const url = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
          // An invalid URL fails in the transport, as it would without the middleware.
          if (Either.isLeft(url)) return inner.postprocess(firstThen(request, effect))
          // The inner client's own span is off: it would hold the request.
          const send = (request: HttpClientRequest.HttpClientRequest, again: typeof effect) =>
            Effect.locally(
              inner.postprocess(firstThen(request, again)),
              HttpClient.currentTracerDisabledWhen,
              constTrue
            )
          const redacted = fiber.getFiberRef(Headers.currentRedactedNames)
          let outcome: { readonly response: HttpClientResponse.HttpClientResponse } | { readonly error: E } | undefined
          return Effect.useSpan(
            Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request),
            { kind: "client", captureStackTrace: false },
            (span) => {
              annotateRequest(span, request, url.right, redacted)
              const propagate = fiber.getFiberRef(HttpClient.currentTracerPropagation)
                ? (request: HttpClientRequest.HttpClientRequest) =>
                  HttpClientRequest.setHeaders(request, HttpTraceContext.toHeaders(span))
                : undefined
              return send(
                propagate === undefined ? request : propagate(request),
                propagate === undefined ? effect : Effect.map(effect, propagate)
              ).pipe(
                Effect.withParentSpan(span),
                Effect.matchEffect({
                  onSuccess: (response) => {
                    outcome = { response }
                    span.attribute("http.response.status_code", response.status)
                    const headers = Headers.redact(response.headers, redacted)
                    for (const name in headers) span.attribute(`http.response.header.${name}`, String(headers[name]))
                    return Effect.succeed(response.status)
                  },
                  onFailure: (error) => {
                    outcome = { error }
                    return Effect.fail(
                      HttpClientError.isHttpClientError(error)
                        ? new RequestFailed(error._tag, error.message)
                        : new RequestFailed("Error", "the request failed")
                    )
                  }
                })
              )
            }
          ).pipe(
            Effect.catchAll(() => Effect.void),
            Effect.flatMap(() =>
              // Stryker disable next-line ConditionalExpression: outcome is set once the span's effect has ended
              outcome !== undefined && "response" in outcome
                ? Effect.succeed(outcome.response)
                : Effect.fail((outcome as { readonly error: E }).error)
            )
          )
        })
    )
})
