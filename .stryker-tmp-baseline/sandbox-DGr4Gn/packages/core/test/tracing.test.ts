/**
 * Span hygiene: no secret, Basic credentials or token is reachable from any span the library, or
 * the platform on its behalf, creates. The tracer here keeps every span whole (attributes, events,
 * links, status with its exit, context, parent) and walks everything reachable from it, calling
 * every getter and decoding every byte array, the way the most thorough exporter would.
 */
// @ts-nocheck

import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { SpanRecorder } from "@access-token/testing"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Exit, Layer, Option, Redacted, Schedule } from "effect"

const SECRET = "SECRET-5e6f7a-sentinel"
const TOKEN = "TOKEN-8b9c0d-sentinel"
const CLIENT_ID = "worker"
const BASIC = Buffer.from(`${CLIENT_ID}:${SECRET}`).toString("base64")

const scenario = (credentialStyle: "header" | "body", status: number) =>
  Effect.gen(function*() {
    const recorder = yield* SpanRecorder.make
    const transport = HttpClient.make((request) =>
      Effect.sync(() =>
        HttpClientResponse.fromWeb(
          request,
          status === 200
            ? Response.json({ access_token: TOKEN, token_type: "Bearer", expires_in: 3600 })
            : Response.json({ error: "invalid_client" }, { status })
        )
      )
    )
    const program = TokenService.getToken("worker").pipe(
      Effect.zipRight(TokenService.getToken("worker", { forceRenewal: true })),
      Effect.exit,
      Effect.provide(
        TokenService.layer({
          clients: {
            worker: {
              tokenEndpoint: "https://auth.example.com/connect/token",
              clientId: CLIENT_ID,
              clientSecret: Redacted.make(SECRET),
              credentialStyle
            }
          }
        }).pipe(
          Layer.provide(TokenEndpointClient.layer({ retrySchedule: Schedule.stop })),
          Layer.provide(TokenCache.layerMemory()),
          Layer.provide(Layer.succeed(HttpClient.HttpClient, transport))
        )
      ),
      Effect.withTracer(recorder.tracer)
    )
    const exit = yield* program
    return { exit, spans: recorder.spans }
  })

describe("spans", () => {
  for (const credentialStyle of ["header", "body"] as const) {
    for (const status of [200, 401]) {
      it.effect(`hold no secret, credentials or token (credentials in the ${credentialStyle}, HTTP ${status})`, () =>
        Effect.gen(function*() {
          const { exit, spans } = yield* scenario(credentialStyle, status)
          assert.strictEqual(Exit.isSuccess(exit), status === 200)
          const names = spans.map((span) => span.name)
          assert.include(names, "TokenService.acquire")
          assert.include(names, "TokenEndpointClient.requestToken")
          assert.deepStrictEqual(SpanRecorder.leaks(spans, [SECRET, BASIC, TOKEN]), [])
        }))
    }
  }

  it.effect("the walk finds a token, or a secret in a request body, in a span that holds one", () =>
    Effect.sync(() => {
      const token = AccessToken.make({ value: TOKEN, receivedAt: DateTime.unsafeMake(0) })
      const span = new SpanRecorder.RecordedSpan("probe", Option.none(), Context.empty(), [], 0n, "internal")
      span.end(1n, Exit.succeed(token))
      assert.isTrue(SpanRecorder.reachableText(span).some((text) => text.includes(TOKEN)))
      const request = HttpClientRequest.post("https://auth.example.com/token").pipe(
        HttpClientRequest.bodyText(`client_secret=${SECRET}`, "application/x-www-form-urlencoded")
      )
      assert.isTrue(SpanRecorder.reachableText({ request }).some((text) => text.includes(SECRET)))
    }))
})
