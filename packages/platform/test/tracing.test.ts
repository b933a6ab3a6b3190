/**
 * Span hygiene for authenticated requests: the `http.client` span of a request the middleware
 * sends has the platform's name, kind and attributes, but no token is reachable from it, however
 * thoroughly an exporter walks it (attributes, events, links, status with its exit, parent).
 */
import { AccessToken, TokenCache, TokenEndpointClient, TokenService } from "@access-token/core"
import { AccessTokenHttpClient } from "@access-token/platform"
import { HttpClient, HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import type { Context } from "effect"
import { DateTime, Duration, Effect, Exit, Layer, Option, Redacted, Tracer } from "effect"
import { stages } from "../src/internal/stages.js"
import { withoutRequestsInSpans } from "../src/internal/tracing.js"

const TOKEN = "TOKEN-4d5e6f-sentinel"

class RecordedSpan implements Tracer.Span {
  readonly _tag = "Span"
  readonly spanId = Math.random().toString(16).slice(2)
  readonly traceId: string
  readonly sampled = true
  status: Tracer.SpanStatus
  readonly attributes = new Map<string, unknown>()
  readonly events: Array<[string, bigint, Record<string, unknown>]> = []
  readonly links: Array<Tracer.SpanLink>

  constructor(
    readonly name: string,
    readonly parent: Option.Option<Tracer.AnySpan>,
    readonly context: Context.Context<never>,
    links: Iterable<Tracer.SpanLink>,
    readonly startTime: bigint,
    readonly kind: Tracer.SpanKind
  ) {
    this.status = { _tag: "Started", startTime }
    this.traceId = Option.isSome(parent) ? parent.value.traceId : Math.random().toString(16).slice(2)
    this.links = Array.from(links)
  }

  end(endTime: bigint, exit: Exit.Exit<unknown, unknown>) {
    this.status = { _tag: "Ended", startTime: this.status.startTime, endTime, exit }
  }

  attribute(key: string, value: unknown) {
    this.attributes.set(key, value)
  }

  event(name: string, startTime: bigint, attributes?: Record<string, unknown>) {
    this.events.push([name, startTime, attributes ?? {}])
  }

  addLinks(links: ReadonlyArray<Tracer.SpanLink>) {
    this.links.push(...links)
  }
}

/** Every string reachable from `root`: members of any kind, getters, map and set entries. */
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
    if (value instanceof Map) {
      for (const [key, member] of value) {
        visit(key, depth + 1)
        visit(member, depth + 1)
      }
    }
    for (
      let holder: object | null = value;
      holder !== null && holder !== Object.prototype;
      holder = Object.getPrototypeOf(holder)
    ) {
      for (const key of Reflect.ownKeys(holder)) {
        const descriptor = Object.getOwnPropertyDescriptor(holder, key)
        if (descriptor === undefined) continue
        if (holder === value && "value" in descriptor) visit(descriptor.value, depth + 1)
        else if (descriptor.get !== undefined) {
          try {
            visit(descriptor.get.call(value), depth + 1)
          } catch {
            // A getter that throws holds nothing to find.
          }
        }
      }
    }
  }
  visit(root, 0)
  return out
}

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

const traced = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const spans: Array<RecordedSpan> = []
    const tracer = Tracer.make({
      span: (name, parent, context, links, startTime, kind) => {
        const span = new RecordedSpan(name, parent, context, links, startTime, kind)
        spans.push(span)
        return span
      },
      context: (f) => f()
    })
    return Effect.map(Effect.exit(Effect.withTracer(effect, tracer)), (exit) => ({ exit, spans }))
  })

const leaksOf = (spans: ReadonlyArray<RecordedSpan>) =>
  spans.flatMap((span) =>
    reachableText(span).some((text) => text.includes(TOKEN)) ? [`the token is reachable from ${span.name}`] : []
  )

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
