/**
 * Span hygiene: no secret, Basic credentials or token is reachable from any span the library, or
 * the platform on its behalf, creates. The tracer here keeps every span whole (attributes, events,
 * links, status with its exit, context, parent) and walks everything reachable from it, calling
 * every getter and decoding every byte array, the way the most thorough exporter would.
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { HttpClient, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Context, DateTime, Effect, Exit, Layer, Option, Redacted, Schedule, Tracer } from "effect"
import { RecordedSpan } from "./utils/RecordedSpan.js"

const SECRET = "SECRET-5e6f7a-sentinel"
const TOKEN = "TOKEN-8b9c0d-sentinel"
const CLIENT_ID = "worker"
const BASIC = Buffer.from(`${CLIENT_ID}:${SECRET}`).toString("base64")

const decoder = new TextDecoder()

/** Every string reachable from `root`: members of any kind, getters, map and set entries, bytes. */
const reachableText = (root: unknown): Array<string> => {
  const out: Array<string> = []
  const seen = new Set<object>()
  const visit = (value: unknown, depth: number): void => {
    if (typeof value === "string") {
      out.push(value)
      return
    }
    if (value === null || typeof value !== "object" || depth > 60 || seen.has(value)) return
    seen.add(value)
    if (ArrayBuffer.isView(value)) {
      out.push(decoder.decode(value as Uint8Array))
      return
    }
    if (value instanceof Map) {
      for (const [key, member] of value) {
        visit(key, depth + 1)
        visit(member, depth + 1)
      }
    }
    if (value instanceof Set) { for (const member of value) visit(member, depth + 1) }
    for (
      let holder: object | null = value;
      holder !== null && holder !== Object.prototype;
      holder = Object.getPrototypeOf(holder)
    ) {
      for (const key of Reflect.ownKeys(holder)) {
        const descriptor = Object.getOwnPropertyDescriptor(holder, key)
        if (descriptor === undefined) continue
        if (holder === value && "value" in descriptor) {
          visit(descriptor.value, depth + 1)
        } else if (descriptor.get !== undefined) {
          try {
            visit(descriptor.get.call(value), depth + 1)
          } catch {
            // A getter that throws holds nothing to find.
          }
        }
      }
    }
    try {
      out.push(String(value), JSON.stringify(value) ?? "")
    } catch {
      // Not serialisable this way: its members were walked above.
    }
  }
  visit(root, 0)
  return out
}

const scenario = (credentialStyle: "header" | "body", status: number) =>
  Effect.gen(function*() {
    const spans: Array<RecordedSpan> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind) => {
        const span = new RecordedSpan(name, parent, context, links, startTime, kind)
        spans.push(span)
        return span
      },
      context: (f) => f()
    })
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
      Effect.withTracer(tracer)
    )
    const exit = yield* program
    return { exit, spans }
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
          const leaks = spans.flatMap((span) =>
            reachableText(span).flatMap((text) =>
              [SECRET, BASIC, TOKEN].filter((sentinel) => text.includes(sentinel)).map((sentinel) =>
                `${sentinel} reachable from span ${span.name}`
              )
            )
          )
          assert.deepStrictEqual([...new Set(leaks)], [])
        }))
    }
  }

  it.effect("the walk finds a token, or a secret in a request body, in a span that holds one", () =>
    Effect.sync(() => {
      const token = AccessToken.make({ value: TOKEN, receivedAt: DateTime.unsafeMake(0) })
      const span = new RecordedSpan("probe", Option.none(), Context.empty(), [], 0n, "internal")
      span.end(1n, Exit.succeed(token))
      assert.isTrue(reachableText(span).some((text) => text.includes(TOKEN)))
      const request = HttpClientRequest.post("https://auth.example.com/token").pipe(
        HttpClientRequest.bodyText(`client_secret=${SECRET}`, "application/x-www-form-urlencoded")
      )
      assert.isTrue(reachableText({ request }).some((text) => text.includes(SECRET)))
    }))
})
