/**
 * Whatever a token endpoint sends and whatever a client is configured with, the library decodes
 * it or fails with a typed error: it never throws, never dies, and never lets a value through that
 * could break the header it ends up in.
 */
import { AccessToken, ClientCredentialsClient, TokenEndpointClient, TokenError } from "@access-token/core"
import { type HttpBody, HttpClient, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, DateTime, Duration, Effect, Either, Exit, FastCheck, Redacted, Schedule, Schema } from "effect"
import * as Util from "node:util"
import { basicAuthorization, formBody, formUrlEncode, parseBasicAuthorization } from "../src/internal/form.js"
import { encodeAttempt, resolve } from "../src/internal/tokenRequest.js"

const fc = FastCheck
const runs = { numRuns: 3000 }

const SECRET = "S3cr3t-4f1d-sentinel"

/** What UTF-8 makes of a string: each lone surrogate becomes U+FFFD, as `URLSearchParams` does. */
const wellFormed = (s: string) =>
  s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")

const visibleAscii = /^[\x21-\x7E]+$/

/** The invariants of any token the library hands out. */
const assertWellFormedToken = (token: AccessToken.AccessToken) => {
  assert.match(Redacted.value(token.value), visibleAscii)
  assert.match(token.type, visibleAscii)
  assert.strictEqual(token.authorization, `${token.type} ${Redacted.value(token.value)}`)
  const receivedAt = DateTime.toEpochMillis(token.receivedAt)
  for (const instant of [token.expiresAt, token.refreshAt]) {
    if (instant === undefined) continue
    const ahead = DateTime.toEpochMillis(instant) - receivedAt
    assert.isTrue(ahead >= 0 && ahead <= Duration.toMillis(AccessToken.maxExpiresIn), String(ahead))
  }
  // Rendered the same whatever its value: the value is not in the rendering.
  const other = new AccessToken.AccessToken({ ...token, value: Redacted.make("other") }, { disableValidation: true })
  assert.strictEqual(String(token), String(other))
  assert.strictEqual(JSON.stringify(token), JSON.stringify(other))
  assert.strictEqual(Util.inspect(token, { depth: 10 }), Util.inspect(other, { depth: 10 }))
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const anyString = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ unit: "grapheme" }))

/** Lifetimes as servers send them, and as they should not. */
const seconds = fc.oneof(
  fc.integer({ min: -10, max: 200_000 }),
  fc.double(),
  fc.constantFrom(0, -1, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 3600.5),
  fc.integer({ min: 0, max: 100_000 }).map(String),
  fc.constantFrom("abc", "", " 3600 ", "1e308", "1e3", "-1", "NaN", "Infinity", "0x10", "3600s", "١٢٣"),
  anyString,
  fc.anything()
)

const tokenValue = fc.oneof(
  fc.stringMatching(/^[\x21-\x7E]{1,40}$/),
  fc.constantFrom("", " ", "Bearer x", "a\r\nX-Injected: 1", "tok\u00e9n", "a\u0000b"),
  anyString,
  fc.anything()
)

/** An object that is more or less a token response, with extra members of every kind. */
const tokenResponseLike = fc.record(
  {
    access_token: tokenValue,
    token_type: fc.oneof(fc.constantFrom("Bearer", "bearer", "DPoP", "N_A", "Bearer\r\n", "", "x y"), anyString),
    expires_in: seconds,
    refresh_in: seconds,
    scope: fc.oneof(fc.string(), fc.anything()),
    error: fc.oneof(fc.constantFrom("invalid_client", "temporarily_unavailable"), fc.anything()),
    error_description: anyString,
    extra: fc.dictionary(fc.string(), fc.jsonValue())
  },
  { requiredKeys: [] }
)

/** Bodies as a token endpoint might send them, the sentinel secret sometimes among them. */
const body = fc.oneof(
  tokenResponseLike.map((value) => JSON.stringify(value) ?? ""),
  fc.json(),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? ""),
  anyString,
  fc.constantFrom(
    "",
    "<html><body>Bad gateway</body></html>",
    `{"error":"invalid_client","error_description":"bad secret ${SECRET}"}`,
    `{"access_token":"${SECRET}",`,
    `[${"[".repeat(100_000)}${"]".repeat(100_000)}]`,
    `{"a":${"[".repeat(50)}"${SECRET}"${"]".repeat(50)}}`,
    `access_token=abc&token_type=bearer&expires_in=${SECRET}`,
    `{"__proto__":{"access_token":"inherited"},"expires_in":60}`,
    `{"access_token":"abc","__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}`
  ),
  fc.tuple(anyString, anyString).map(([before, after]) => `${before}${SECRET}${after}`),
  fc.tuple(fc.string(), fc.string()).map(([before, after]) =>
    JSON.stringify({ error: "server_error", error_description: `${before}${SECRET}${after}` })
  )
)

/** The body limits tried: the default, and limits that real answers cross. */
const maxResponseBytes = [undefined, 16, 200, 4096] as const

const headerValue = fc.stringMatching(/^[\x20-\x7E]{0,40}$/).map((s) => s.trim())

const answer = fc.record({
  status: fc.oneof(
    fc.constantFrom(200, 201, 400, 401, 403, 408, 429, 500, 502, 503),
    fc.integer({ min: 200, max: 599 })
  ),
  contentType: fc.oneof(
    fc.constantFrom(
      "application/json",
      "application/json; charset=utf-8",
      "application/x-www-form-urlencoded",
      "text/html",
      "text/plain"
    ),
    headerValue,
    fc.constant(undefined)
  ),
  retryAfter: fc.oneof(
    fc.constant(undefined),
    fc.nat().map(String),
    fc.constantFrom("-1", "1e308", "9".repeat(400), "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"),
    headerValue
  ),
  body: fc.oneof(body.map((text) => new TextEncoder().encode(text)), fc.uint8Array({ maxLength: 200 })),
  maxResponseBytes: fc.constantFrom(...maxResponseBytes)
})

// ---------------------------------------------------------------------------------------------

describe("AccessToken.TokenResponse", () => {
  const decode = Schema.decodeUnknownEither(AccessToken.TokenResponse)
  const receivedAt = DateTime.unsafeMake(0)

  const check = (input: unknown) => {
    const decoded = decode(input)
    if (Either.isLeft(decoded)) return
    const response = decoded.right
    assert.match(response.access_token, visibleAscii)
    if (response.token_type !== undefined) assert.match(response.token_type, visibleAscii)
    for (const lifetime of [response.expires_in, response.refresh_in]) {
      if (lifetime === undefined) continue
      assert.isTrue(Number.isFinite(lifetime) && lifetime >= 0, String(lifetime))
      assert.isAtMost(lifetime, Duration.toSeconds(AccessToken.maxExpiresIn))
    }
    assertWellFormedToken(AccessToken.fromResponse(response, receivedAt))
  }

  it("decodes arbitrary values or fails with a parse error, never throws", () => {
    fc.assert(
      fc.property(fc.anything({ withBigInt: true, withMap: true, withSet: true, withNullPrototype: true }), check),
      runs
    )
  })

  it("decodes token-like objects to tokens that are safe to put in a header", () => {
    fc.assert(fc.property(tokenResponseLike, check), runs)
  })

  it("decodes arbitrary JSON as parsed from the wire", () => {
    fc.assert(
      fc.property(fc.oneof(fc.json(), body), (text) => {
        let value: unknown
        try {
          value = JSON.parse(text)
        } catch {
          return
        }
        check(value)
      }),
      runs
    )
  })
})

describe("TokenEndpointClient reading any answer", () => {
  const client = Effect.runSync(ClientCredentialsClient.make({
    tokenEndpoint: "https://auth.example.com/token",
    clientId: "worker",
    clientSecret: Redacted.make(SECRET)
  }, "worker"))

  /** One answer at a time, set before each request. */
  let current: typeof answer extends FastCheck.Arbitrary<infer A> ? A : never
  const transport = HttpClient.make((request) =>
    Effect.sync(() => {
      const headers = new Headers()
      if (current.contentType !== undefined) headers.set("content-type", current.contentType)
      if (current.retryAfter !== undefined) headers.set("retry-after", current.retryAfter)
      const bodyless = current.status === 204 || current.status === 205 || current.status === 304
      return HttpClientResponse.fromWeb(
        request,
        new Response(bodyless ? null : current.body as Uint8Array<ArrayBuffer>, { status: current.status, headers })
      )
    })
  )
  const endpoints = new Map(
    maxResponseBytes.map((limit) => [
      limit,
      TokenEndpointClient.make({ retrySchedule: Schedule.stop, maxResponseBytes: limit }).pipe(
        Effect.provideService(HttpClient.HttpClient, transport),
        Effect.runSync
      )
    ])
  )

  it.effect(
    "ends in a well-formed token or a typed error that never quotes the secret",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(answer, async (next) => {
            current = next
            const exit = await Effect.runPromiseExit(endpoints.get(next.maxResponseBytes)!.requestToken(client))
            if (Exit.isSuccess(exit)) {
              assert.isTrue(next.status >= 200 && next.status < 300)
              assertWellFormedToken(exit.value)
              return
            }
            assert.isTrue(Cause.isFailType(exit.cause), Cause.pretty(exit.cause))
            const error = (exit.cause as Cause.Fail<TokenError.TokenEndpointError>).error
            assert.isTrue(TokenError.isTokenError(error))
            assert.include(["TokenRefusedError", "InvalidTokenResponseError"], error._tag)
            for (
              const text of [
                error.message,
                String(error),
                JSON.stringify(error),
                Util.inspect(error),
                Cause.pretty(exit.cause)
              ]
            ) {
              assert.notInclude(text, SECRET)
            }
            const retryAfter = "retryAfter" in error ? error.retryAfter : undefined
            if (retryAfter !== undefined) assert.isTrue(Duration.greaterThanOrEqualTo(retryAfter, Duration.zero))
          }),
          { numRuns: 2000 }
        )
      ),
    30_000
  )
})

describe("the client credentials request", () => {
  it("form-urlencodes any string as URLSearchParams does", () => {
    fc.assert(
      fc.property(anyString, (value) => {
        assert.strictEqual(formUrlEncode(value), new URLSearchParams({ v: value }).toString().slice(2))
      }),
      runs
    )
  })

  it("round-trips any client id and secret through client_secret_basic", () => {
    fc.assert(
      fc.property(anyString, anyString, (clientId, clientSecret) => {
        assert.deepStrictEqual(parseBasicAuthorization(basicAuthorization(clientId, clientSecret)), {
          clientId: wellFormed(clientId),
          clientSecret: wellFormed(clientSecret)
        })
      }),
      runs
    )
  })

  it("builds a request, or refuses with a typed error, for any id, secret and extra parameters", () => {
    fc.assert(
      fc.property(
        anyString,
        anyString.map((s) => `${SECRET}${s}`),
        fc.constantFrom("header" as const, "body" as const),
        fc.dictionary(fc.oneof(anyString, fc.constantFrom("grant_type", "client_secret", "audience")), anyString, {
          maxKeys: 4
        }),
        (clientId, secret, credentialStyle, parameters) => {
          const made = Effect.runSync(Effect.either(ClientCredentialsClient.make({
            tokenEndpoint: "https://auth.example.com/token",
            clientId,
            clientSecret: Redacted.make(secret),
            credentialStyle,
            parameters
          }, "worker")))
          if (Either.isLeft(made)) {
            assert.strictEqual(made.left._tag, "ClientConfigurationError")
            assert.notInclude(made.left.message, SECRET)
            return
          }
          const attempt = Effect.runSync(Effect.either(Effect.flatMap(
            resolve(made.right),
            (resolved) => encodeAttempt(made.right, resolved, { tokenEndpoint: made.right.tokenEndpoint! })
          )))
          if (Either.isLeft(attempt)) {
            assert.strictEqual(attempt.left._tag, "ClientConfigurationError")
            return
          }
          const request = attempt.right
          assert.strictEqual(request.body._tag, "Uint8Array")
          const form = new URLSearchParams(
            new TextDecoder().decode((request.body as HttpBody.Uint8Array).body)
          )
          assert.strictEqual(form.get("grant_type"), "client_credentials")
          for (const [name, value] of Object.entries(parameters)) {
            assert.strictEqual(form.get(wellFormed(name)), wellFormed(value))
          }
          if (credentialStyle === "body") {
            assert.strictEqual(form.get("client_id"), wellFormed(clientId))
            assert.strictEqual(form.get("client_secret"), wellFormed(secret))
            assert.isUndefined(request.headers.authorization)
          } else {
            assert.isNull(form.get("client_secret"))
            assert.deepStrictEqual(parseBasicAuthorization(request.headers.authorization), {
              clientId: wellFormed(clientId),
              clientSecret: wellFormed(secret)
            })
          }
          assert.strictEqual(formBody([["v", clientId]]), `v=${formUrlEncode(clientId)}`)
        }
      ),
      {
        numRuns: 2000,
        // Once found at random: an extra parameter named `__proto__` (an own key, as `JSON.parse` makes
        // it) that decoding dropped from the form unseen. It is refused now; this keeps it checked.
        examples: [["\u0000", SECRET, "header", JSON.parse(`{"__proto__":""}`)]]
      }
    )
  })
})
