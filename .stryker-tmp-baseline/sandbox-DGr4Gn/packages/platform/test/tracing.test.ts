/**
 * Span hygiene for authenticated requests: the `http.client` span of a request the middleware
 * sends has the platform's name, kind and attributes, but no token is reachable from it, however
 * thoroughly an exporter walks it (attributes, events, links, status with its exit, parent).
 */
// @ts-nocheck

import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { SpanRecorder } from "@access-token/testing"
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Exit, Layer, Redacted } from "effect"
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
