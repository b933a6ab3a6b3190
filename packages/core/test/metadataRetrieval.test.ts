import { AuthorizationServerMetadata } from "@access-token/core"
import { SpanRecorder } from "@access-token/testing"
import { HttpClient, HttpClientError, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Duration, Effect, Exit, Fiber, Option, Schedule, TestClock } from "effect"
import { make, type Settings } from "../src/internal/metadataRetrieval.js"

const ISSUER = "https://as.example.com"
const RFC8414 = `${ISSUER}/.well-known/oauth-authorization-server`
const OIDC = `${ISSUER}/.well-known/openid-configuration`

type Reply = Response | "never" | "unreachable"

const document = (issuer = ISSUER) =>
  new Response(JSON.stringify({ issuer, token_endpoint: `${issuer}/token` }), {
    headers: { "content-type": "application/json" }
  })

/** A body that breaks off after its first bytes, as a connection reset mid-body does. */
const brokenBody = () =>
  new Response(
    new ReadableStream({
      start(controller) {
        controller.enqueue(new TextEncoder().encode("{\"issuer\":"))
        controller.error(new Error("socket hang up"))
      }
    }),
    { headers: { "content-type": "application/json" } }
  )

/** A fake server: each URL's replies in turn, the last one repeating; any other URL a 404. */
const fakeServer = (routes: Readonly<Record<string, ReadonlyArray<() => Reply>>>) => {
  const urls: Array<string> = []
  const http = HttpClient.make((request) =>
    Effect.suspend(() => {
      urls.push(request.url)
      const replies = routes[request.url] ?? [() => new Response("not here", { status: 404 })]
      const count = urls.filter((url) => url === request.url).length
      const reply = replies[Math.min(count, replies.length) - 1]()
      if (reply === "never") return Effect.never
      if (reply === "unreachable") {
        return Effect.fail(
          new HttpClientError.RequestError({
            request,
            reason: "Transport",
            cause: Object.assign(new Error("connect"), { code: "ECONNREFUSED" })
          })
        )
      }
      return Effect.succeed(HttpClientResponse.fromWeb(request, reply))
    })
  )
  return { http, urls }
}

const settings: Settings = {
  order: ["oauth-authorization-server", "openid-configuration"],
  timeout: AuthorizationServerMetadata.defaultRequestTimeout,
  maxBytes: 64 * 1024,
  retrySchedule: Schedule.recurs(2),
  allowInsecureTransport: false
}

/** Retrieves the metadata of `issuer` from `server`, the TestClock moved on until it is done. */
const retrieve = (server: ReturnType<typeof fakeServer>, overrides: Partial<Settings> = {}, issuer = ISSUER) =>
  Effect.gen(function*() {
    const fiber = yield* Effect.fork(Effect.exit(make(server.http, { ...settings, ...overrides })(issuer)))
    yield* TestClock.adjust("10 minutes")
    const polled = yield* Fiber.poll(fiber)
    return Option.isSome(polled) ? Exit.flatten(polled.value) : assert.fail("still retrieving after 10 minutes")
  })

const errorOf = <A>(exit: Exit.Exit<A, AuthorizationServerMetadata.MetadataError>) => {
  const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
  return Option.isSome(failure) ? failure.value : assert.fail("expected a metadata error")
}

describe("metadataRetrieval", () => {
  it.effect("a location without a document says why, each in turn, with the last status", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [() => new Response(null, { status: 300 })],
        [OIDC]: [() => new Response("{}", { status: 400 })]
      })
      const error = errorOf(yield* retrieve(server))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.status, 400)
      assert.strictEqual(
        error.message,
        `The authorization server metadata of issuer "${ISSUER}" is unavailable: found no document at ${RFC8414}, then ${OIDC}: HTTP 300, a redirect, which is not followed; then HTTP 400`
      )
      assert.deepStrictEqual(server.urls, [RFC8414, OIDC], "a location without a document is not retried")
    }))

  it.effect("a 1xx status that a client hands over as the answer is no document, whatever its body", () =>
    Effect.gen(function*() {
      const informational = () => Object.defineProperty(document(), "status", { value: 103 })
      const server = fakeServer({ [RFC8414]: [informational], [OIDC]: [informational] })
      const error = errorOf(yield* retrieve(server))
      assert.include(error.message, `${OIDC}: HTTP 103; then HTTP 103`)
    }))

  it.effect("a 2xx answer that is no JSON object hands over to the next location, saying what it was", () =>
    Effect.gen(function*() {
      const server = fakeServer({
        [RFC8414]: [() => new Response("<html></html>", { status: 203 })],
        [OIDC]: [() => new Response("[]", { status: 299 })]
      })
      const error = errorOf(yield* retrieve(server))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.status, 299)
      assert.include(
        error.message,
        ": HTTP 203, but the body is not valid JSON; then HTTP 299, but the body is not a JSON object"
      )
    }))

  it.effect("408, 429 and 5xx answers are retried on the schedule; the last one is the error", () =>
    Effect.gen(function*() {
      for (const status of [408, 429, 500, 599]) {
        const server = fakeServer({ [RFC8414]: [() => new Response(null, { status })] })
        const error = errorOf(yield* retrieve(server))
        assert.strictEqual(error._tag === "MetadataUnavailableError" && error.status, status)
        assert.strictEqual(
          error.message,
          `The authorization server metadata of issuer "${ISSUER}" is unavailable: found no document at ${RFC8414}: HTTP ${status}`
        )
        assert.deepStrictEqual(server.urls, [RFC8414, RFC8414, RFC8414], `${status}: the first try and 2 retries`)
      }
    }))

  it.effect("a location that does not answer in time fails the attempt, saying how long it waited", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: [() => "never", () => document()] })
      const retried = yield* retrieve(server, { timeout: AuthorizationServerMetadata.defaultRequestTimeout })
      assert.isTrue(Exit.isSuccess(retried), "the next attempt gets the document")
      const silent = fakeServer({ [RFC8414]: [() => "never"] })
      const error = errorOf(yield* retrieve(silent, { timeout: Duration.millis(2500), retrySchedule: Schedule.stop }))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.reason, "Timeout")
      assert.include(error.message, `${RFC8414}: no complete answer within 2s 500ms`)
    }))

  it.effect("a body that breaks off is a reset, retried, and never quoted", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: [brokenBody] })
      const error = errorOf(yield* retrieve(server))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.reason, "Reset")
      assert.include(error.message, `${RFC8414}: the response body could not be read`)
      assert.deepStrictEqual(server.urls, [RFC8414, RFC8414, RFC8414])
    }))

  it.effect("an unreachable server is a connect failure naming the location", () =>
    Effect.gen(function*() {
      const server = fakeServer({ [RFC8414]: [() => "unreachable"] })
      const error = errorOf(yield* retrieve(server, { retrySchedule: Schedule.stop }))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.reason, "Connect")
      assert.deepStrictEqual(error._tag === "MetadataUnavailableError" && error.locations, [RFC8414])
      assert.include(error.message, "ECONNREFUSED")
    }))

  it.effect("a retrieval is one client span naming the issuer and its host, and how it ended", () =>
    Effect.gen(function*() {
      const issuer = `${ISSUER}:8443/tenants/a`
      const found = fakeServer({
        [`${ISSUER}:8443/.well-known/oauth-authorization-server/tenants/a`]: [() => document(issuer)]
      })
      const ok = yield* SpanRecorder.record(retrieve(found, {}, issuer))
      assert.isTrue(Exit.isSuccess(ok.exit))
      const spans = ok.spans.filter((span) => span.name === "AuthorizationServerMetadata.discover")
      assert.strictEqual(spans.length, 1)
      assert.strictEqual(spans[0].kind, "client")
      assert.deepStrictEqual(Object.fromEntries(spans[0].attributes), {
        "oauth.issuer": issuer,
        "server.address": "as.example.com",
        outcome: "success"
      })

      const failed = yield* SpanRecorder.record(retrieve(fakeServer({}), {}, issuer))
      const span = failed.spans.find((span) => span.name === "AuthorizationServerMetadata.discover")
      assert.strictEqual(span?.attributes.get("outcome"), "MetadataUnavailableError")
    }))

  it.effect("no location to read is a typed error, not a defect", () =>
    Effect.gen(function*() {
      const server = fakeServer({})
      const error = errorOf(yield* retrieve(server, { order: [] }))
      assert.strictEqual(error._tag === "MetadataUnavailableError" && error.reason, "Status")
      assert.deepStrictEqual(error._tag === "MetadataUnavailableError" && error.locations, [])
      assert.deepStrictEqual(server.urls, [])
    }))

  it.effect("an issuer that cannot be one fails before any request", () =>
    Effect.gen(function*() {
      const server = fakeServer({})
      const error = errorOf(yield* retrieve(server, {}, "http://as.example.com"))
      assert.strictEqual(error._tag === "InvalidMetadataError" && error.reason, "Issuer")
      assert.deepStrictEqual(server.urls, [])
      const allowed = fakeServer({
        "http://as.example.com/.well-known/oauth-authorization-server": [() => document("http://as.example.com")]
      })
      assert.isTrue(Exit.isSuccess(yield* retrieve(allowed, { allowInsecureTransport: true }, "http://as.example.com")))
    }))
})
