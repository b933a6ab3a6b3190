/**
 * Span hygiene for authenticated requests: the `http.client` span of a request the middleware
 * sends has the platform's name, kind and attributes, but no token is reachable from it, however
 * thoroughly an exporter walks it (attributes, events, links, status with its exit, parent).
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { SpanRecorder } from "@access-token/testing"
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Duration, Effect, Exit, Layer, Option, Redacted } from "effect"
import { stages } from "../src/internal/stages.js"
import { withoutRequestsInSpans } from "../src/internal/tracing.js"

const TOKEN = "TOKEN-4d5e6f-sentinel"

const tokens = TokenService.layer({
  clients: {
    api: { tokenEndpoint: "https://auth.example.com/token", clientId: "api", clientSecret: Redacted.make("secret") }
  }
}).pipe(
  Layer.provide(Layer.merge(
    TokenEndpointClient.layerTest(() =>
      Effect.map(
        DateTime.now,
        (receivedAt) => AccessToken.make({ value: TOKEN, receivedAt, expiresIn: Duration.hours(1) })
      )
    ),
    TokenCache.layerMemory()
  )),
  Layer.orDie
)

const traced = SpanRecorder.record

const leaksOf = (spans: ReadonlyArray<SpanRecorder.RecordedSpan>) => SpanRecorder.leaks(spans, [TOKEN])

describe("spans of authenticated requests", () => {
  for (const status of [200, 401]) {
    it.effect(`hold no token, and keep the platform's name and attributes (HTTP ${status})`, () =>
      Effect.gen(function*() {
        const seen: Array<Record<string, string>> = []
        const api = HttpClient.make((request) =>
          Effect.sync(() => {
            seen.push({ ...request.headers })
            return HttpClientResponse.fromWeb(request, new Response("{}", { status }))
          })
        )
        const client = api.pipe(AccessTokenHttpClient.withAccessToken("api"))
        const { exit, spans } = yield* traced(client.get("https://api.example.com/orders?page=2"))
        assert.isTrue(Exit.isSuccess(exit))
        const http = spans.filter((span) => span.name === "http.client GET")
        assert.isAtLeast(http.length, 1)
        const [first] = http
        assert.strictEqual(first.kind, "client")
        assert.strictEqual(first.attributes.get("url.full"), "https://api.example.com/orders?page=2")
        assert.strictEqual(first.attributes.get("http.request.header.authorization"), "<redacted>")
        assert.strictEqual(first.attributes.get("http.response.status_code"), status)
        // The trace context still reaches the API.
        assert.isDefined(seen[0].traceparent)
        assert.deepStrictEqual(leaksOf(spans), [])
      }).pipe(Effect.provide(tokens)))
  }

  it.effect("hold no userinfo of the URL", () =>
    Effect.gen(function*() {
      const api = HttpClient.make((request) =>
        Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status: 200 })))
      )
      const client = api.pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { spans } = yield* traced(client.get("https://alice:s3cret@api.example.com/orders?page=2"))
      const [first] = spans.filter((span) => span.name === "http.client GET")
      assert.strictEqual(first.attributes.get("url.full"), "https://api.example.com/orders?page=2")
      assert.deepStrictEqual(SpanRecorder.leaks(spans, ["s3cret"]), [])
    }).pipe(Effect.provide(tokens)))

  it.effect("of a request that fails hold no token either", () =>
    Effect.gen(function*() {
      const api = HttpClient.make((request) =>
        Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "reset" }))
      )
      const client = api.pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { exit, spans } = yield* traced(client.get("https://api.example.com/orders"))
      assert.isTrue(Exit.isFailure(exit))
      assert.isAtLeast(spans.filter((span) => span.name === "http.client GET").length, 1)
      assert.deepStrictEqual(leaksOf(spans), [])
    }).pipe(Effect.provide(tokens)))

  it.effect("the walk finds the token in the platform's own span, which keeps the request", () =>
    Effect.gen(function*() {
      const api = HttpClient.make((request) => Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}"))))
      const token = yield* TokenService.getToken("api")
      const request = HttpClientRequest.get("https://api.example.com/", {
        headers: { authorization: token.authorization }
      })
      const plain = yield* traced(api.execute(request))
      assert.isNotEmpty(leaksOf(plain.spans))
      const guarded = yield* traced(withoutRequestsInSpans(stages(api)).postprocess(Effect.succeed(request)))
      assert.strictEqual(guarded.spans.length, 1)
      assert.deepStrictEqual(leaksOf(guarded.spans), [])
    }).pipe(Effect.provide(tokens)))
})

/** The `http.client GET` spans of `effect`, with its exit. */
const httpSpans = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(traced(effect), ({ exit, spans }) => ({
    exit,
    spans: spans.filter((span) => span.name.startsWith("http.client"))
  }))

const answering = (status: number, headers: Record<string, string> = {}) =>
  HttpClient.make((request) =>
    Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}", { status, headers })))
  )

describe("the span of an authenticated request", () => {
  it.effect("has OpenTelemetry's attributes of the request and the response, with a port and a query when given", () =>
    Effect.gen(function*() {
      const client = answering(200, { "x-request-id": "r-1" }).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { spans: [span] } = yield* httpSpans(client.get("https://api.example.com:8443/v1/orders?page=2&size=10"))
      assert.deepStrictEqual(Object.fromEntries([...span.attributes].filter(([key]) => !key.includes(".header."))), {
        "http.request.method": "GET",
        "server.address": "https://api.example.com:8443",
        "server.port": 8443,
        "url.full": "https://api.example.com:8443/v1/orders?page=2&size=10",
        "url.path": "/v1/orders",
        "url.scheme": "https",
        "url.query": "page=2&size=10",
        "http.response.status_code": 200
      })
      assert.strictEqual(span.attributes.get("http.response.header.x-request-id"), "r-1")
      assert.strictEqual(span.attributes.get("http.request.header.authorization"), "<redacted>")
    }).pipe(Effect.provide(tokens)))

  it.effect("has no port and no query when the URL has none", () =>
    Effect.gen(function*() {
      const client = answering(204).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { spans: [span] } = yield* httpSpans(client.post("https://api.example.com/orders"))
      assert.strictEqual(span.name, "http.client POST")
      assert.strictEqual(span.attributes.get("http.request.method"), "POST")
      assert.strictEqual(span.attributes.get("url.full"), "https://api.example.com/orders")
      assert.isFalse(span.attributes.has("server.port"))
      assert.isFalse(span.attributes.has("url.query"))
    }).pipe(Effect.provide(tokens)))

  it.effect("holds no user name of the URL either, when it comes without a password", () =>
    Effect.gen(function*() {
      const client = answering(200).pipe(AccessTokenHttpClient.withAccessToken("api"))
      for (const url of ["https://alice@api.example.com/orders", "https://:s3cret@api.example.com/orders"]) {
        const { spans: [span] } = yield* httpSpans(client.get(url))
        assert.strictEqual(span.attributes.get("url.full"), "https://api.example.com/orders", url)
      }
    }).pipe(Effect.provide(tokens)))

  it.effect("carries the trace context to the API, unless propagation is off", () =>
    Effect.gen(function*() {
      const seen: Array<string | undefined> = []
      const client = HttpClient.make((request) =>
        Effect.sync(() => {
          seen.push(request.headers.traceparent)
          return HttpClientResponse.fromWeb(request, new Response("{}"))
        })
      ).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { spans: [span] } = yield* httpSpans(client.get("https://api.example.com/orders"))
      assert.strictEqual(seen[0], `00-${span.traceId}-${span.spanId}-01`)
      yield* httpSpans(
        client.get("https://api.example.com/orders").pipe(
          Effect.locally(HttpClient.currentTracerPropagation, false)
        )
      )
      assert.strictEqual(seen.length, 2)
      assert.isUndefined(seen[1])
    }).pipe(Effect.provide(tokens)))

  it.effect("carries the trace context on a retry inside the wrapped client too, unless propagation is off", () =>
    Effect.gen(function*() {
      const seen: Array<string | undefined> = []
      const client = HttpClient.make((request) =>
        Effect.suspend(() => {
          seen.push(request.headers.traceparent)
          return seen.length % 2 === 1
            ? Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "reset" }))
            : Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}")))
        })
      ).pipe(HttpClient.retryTransient({ times: 1 }), AccessTokenHttpClient.withAccessToken("api"))
      const { spans: [span] } = yield* httpSpans(client.get("https://api.example.com/orders"))
      assert.deepStrictEqual(seen, [`00-${span.traceId}-${span.spanId}-01`, `00-${span.traceId}-${span.spanId}-01`])
      yield* httpSpans(
        client.get("https://api.example.com/orders").pipe(
          Effect.locally(HttpClient.currentTracerPropagation, false)
        )
      )
      assert.deepStrictEqual(seen.slice(2), [undefined, undefined])
    }).pipe(Effect.provide(tokens)))

  it.effect("is not made when tracing is off, or off for that request", () =>
    Effect.gen(function*() {
      const client = answering(200).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const off = yield* httpSpans(client.get("https://api.example.com/orders").pipe(Effect.withTracerEnabled(false)))
      assert.isTrue(Exit.isSuccess(off.exit))
      assert.deepStrictEqual(off.spans, [])
      const skipped = yield* httpSpans(
        client.get("https://api.example.com/health").pipe(
          Effect.locally(HttpClient.currentTracerDisabledWhen, (request) => request.url.endsWith("/health"))
        )
      )
      assert.isTrue(Exit.isSuccess(skipped.exit))
      assert.deepStrictEqual(skipped.spans, [])
    }).pipe(Effect.provide(tokens)))

  it.effect("of a failed request ends with the error's kind and message, and no stack trace", () =>
    Effect.gen(function*() {
      const failing = HttpClient.make((request) =>
        Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "reset" }))
      )
      const { exit, spans: [span] } = yield* httpSpans(
        failing.pipe(AccessTokenHttpClient.withAccessToken("api")).get("https://api.example.com/orders")
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(span.attributes.has("code.stacktrace"))
      assert.strictEqual(span.status._tag, "Ended")
      if (span.status._tag !== "Ended") return
      assert.deepStrictEqual(
        Exit.mapBoth(span.status.exit, { onFailure: (error) => ({ ...(error as object) }), onSuccess: () => "sent" }),
        Exit.fail({
          _tag: "RequestFailed",
          kind: "RequestError",
          message: "Transport: reset (GET https://api.example.com/orders)"
        })
      )
    }).pipe(Effect.provide(tokens)))

  it.effect("of a request failed by an error of the wrapped client's own says only that it failed", () =>
    Effect.gen(function*() {
      class Refused {
        readonly _tag = "Refused"
      }
      const client = answering(200).pipe(
        HttpClient.filterOrFail(() => false, () => new Refused()),
        AccessTokenHttpClient.withAccessToken("api")
      )
      const { exit, spans: [span] } = yield* httpSpans(client.get("https://api.example.com/orders"))
      assert.isTrue(Exit.isFailure(exit))
      if (span.status._tag !== "Ended") return assert.fail("the span has not ended")
      assert.deepStrictEqual(
        Exit.mapBoth(span.status.exit, { onFailure: (error) => ({ ...(error as object) }), onSuccess: () => "sent" }),
        Exit.fail({ _tag: "RequestFailed", kind: "Error", message: "the request failed" })
      )
    }).pipe(Effect.provide(tokens)))

  it.effect("a URL the platform cannot parse goes to the transport untraced, which reports it", () =>
    Effect.gen(function*() {
      const client = answering(200).pipe(AccessTokenHttpClient.withAccessToken("api"))
      const { exit, spans } = yield* httpSpans(client.get("not a url"))
      const reason = Exit.match(exit, {
        onSuccess: () => "sent",
        onFailure: (cause) =>
          Option.match(Cause.failureOption(cause), {
            onNone: () => "no failure",
            onSome: (error) => error._tag === "RequestError" ? error.reason : error._tag
          })
      })
      assert.strictEqual(reason, "InvalidUrl")
      assert.deepStrictEqual(spans, [])
    }).pipe(Effect.provide(tokens)))
})

describe("withoutRequestsInSpans", () => {
  it.effect("evaluates the request once per send, and anew for each retry inside the wrapped client", () =>
    Effect.gen(function*() {
      let attempts = 0
      let failFirst = false
      const api = HttpClient.make((request) =>
        Effect.suspend(() =>
          ++attempts === 1 && failFirst
            ? Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", description: "reset" }))
            : Effect.succeed(HttpClientResponse.fromWeb(request, new Response("{}")))
        )
      )
      for (const tracing of [true, false]) {
        const client = api
        failFirst = false
        attempts = 0
        let evaluated = 0
        const request = Effect.sync(() => {
          evaluated++
          return HttpClientRequest.get("https://api.example.com/orders")
        })
        const send = withoutRequestsInSpans(stages(client)).postprocess(request)
        yield* Effect.withTracerEnabled(send, tracing)
        assert.strictEqual(evaluated, 1, `one send, tracing ${tracing}`)
        attempts = 0
        evaluated = 0
        failFirst = true
        const retried = withoutRequestsInSpans(stages(HttpClient.retryTransient(client, { times: 1 })))
        yield* Effect.withTracerEnabled(retried.postprocess(request), tracing)
        assert.strictEqual(attempts, 2)
        assert.strictEqual(evaluated, 2, `a send and a retry, tracing ${tracing}`)
      }
    }))
})
