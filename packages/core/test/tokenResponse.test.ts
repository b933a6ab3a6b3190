/**
 * The token endpoint's answer as the client reads it: a body taken in whatever chunks the network
 * gives, within the size cap; the transport failure told in the words of the system's code, however
 * deep the platform buried it; and a success that is no token response shown only by its shape.
 */
import { ClientCredentialsClient, type TokenError } from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
// After the test kit, which loads the Reflect metadata polyfill its certificates need.
import { HttpClientError, HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Redacted } from "effect"
import { readBody, readResponse, transportError, transportFailure } from "../src/internal/tokenResponse.js"

const ENDPOINT = "https://auth.example.com/connect/token"
const request = HttpClientRequest.post(ENDPOINT)
const encoder = new TextEncoder()

/** A response whose body arrives in the given chunks, as a network delivers a larger one. */
const chunked = (
  chunks: ReadonlyArray<string | Uint8Array>,
  init: { readonly status?: number; readonly headers?: Record<string, string> } = {}
) =>
  HttpClientResponse.fromWeb(
    request,
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk)
          controller.close()
        }
      }),
      { status: init.status ?? 200, headers: init.headers ?? {} }
    )
  )

const client = ClientCredentialsClient.make({
  tokenEndpoint: ENDPOINT,
  clientId: "worker",
  clientSecret: Redacted.make("s3cr3t-Sentinel")
}, "billing")

/** What `readResponse` makes of an answer: the token's value, or the error a user reads. */
const judged = (response: HttpClientResponse.HttpClientResponse, maxBytes = 1024) =>
  Effect.flatMap(client, (client) => Effect.either(readResponse(client, response, maxBytes, 0)))

const invalid = (
  result: Either.Either<unknown, TokenError.TokenError | HttpClientError.ResponseError>
): TokenError.InvalidTokenResponseError => {
  if (Either.isRight(result)) return assert.fail("expected an InvalidTokenResponseError, got a token")
  assert.strictEqual(result.left._tag, "InvalidTokenResponseError", result.left.message)
  return result.left as TokenError.InvalidTokenResponseError
}

describe("readBody", () => {
  it.effect("joins a body that arrives in several chunks, in order", () =>
    Effect.gen(function*() {
      const text = yield* readBody(chunked([`{"access_`, `token":"abc",`, `"token_type":"Bearer"}`]), 1024)
      assert.strictEqual(text, `{"access_token":"abc","token_type":"Bearer"}`)
    }))

  it.effect("decodes a character whose UTF-8 bytes are split between two chunks", () =>
    Effect.gen(function*() {
      const bytes = encoder.encode(`"é€😀"`)
      const text = yield* readBody(chunked([bytes.slice(0, 2), bytes.slice(2, 5), bytes.slice(5)]), 1024)
      assert.strictEqual(text, `"é€😀"`)
    }))

  it.effect("reads a streamed body of exactly the cap, in several chunks", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* readBody(chunked(["0123456789", "abcde"]), 15), "0123456789abcde")
    }))

  it.effect("fails a streamed body that passes the cap only in a later chunk", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(readBody(chunked(["0123456789", "abcde", "f"]), 15))
      assert.strictEqual(error._tag, "BodyTooLarge")
    }))

  it.effect("reads a body whose Content-Length is exactly the cap", () =>
    Effect.gen(function*() {
      const text = yield* readBody(chunked(["0123456789", "abcde"], { headers: { "content-length": "15" } }), 15)
      assert.strictEqual(text, "0123456789abcde")
    }))

  it.effect("refuses a Content-Length one byte over the cap before reading anything", () =>
    Effect.gen(function*() {
      // The body itself is short: the announcement alone is enough to stop.
      const error = yield* Effect.flip(readBody(chunked(["{}"], { headers: { "content-length": "16" } }), 15))
      assert.strictEqual(error._tag, "BodyTooLarge")
    }))

  it.effect("reads bytes that are not UTF-8 as replacement characters, without failing", () =>
    Effect.gen(function*() {
      const text = yield* readBody(chunked([new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])]), 1024)
      assert.strictEqual(text, "{\uFFFD\uFFFD}")
    }))

  it.effect("reads an answer without a body (204) as an empty body", () =>
    Effect.gen(function*() {
      const response = HttpClientResponse.fromWeb(request, new Response(null, { status: 204 }))
      assert.strictEqual(yield* readBody(response, 1024), "")
    }))
})

describe("readResponse", () => {
  it.effect("a token whose body arrives in several chunks", () =>
    Effect.gen(function*() {
      const result = yield* judged(chunked([`{"access_token":"tok-`, `abc","token_type":"Bearer"}`]))
      assert.isTrue(Either.isRight(result))
      if (Either.isRight(result)) assert.strictEqual(Redacted.value(result.right.value), "tok-abc")
    }))

  it.effect("a body past the cap only in a later chunk is an invalid response that says the cap", () =>
    Effect.gen(function*() {
      const error = invalid(yield* judged(chunked([`{"access_token":"`, "x".repeat(40), `"}`]), 50))
      assert.strictEqual(error.reason, "the body is larger than 50 bytes")
      assert.strictEqual(error.body, "")
      assert.strictEqual(error.status, 200)
    }))

  it.effect("a success that is no token response shows the shape of its JSON, every string masked", () =>
    Effect.gen(function*() {
      const body = JSON.stringify({
        data: { value: "tok", count: 2, list: ["a", true, null, { k: "v" }] },
        message: "ok",
        flag: false
      })
      const error = invalid(
        yield* judged(chunked([body], { headers: { "content-type": "application/json" } }))
      )
      assert.strictEqual(error.reason, "access_token is missing")
      assert.strictEqual(
        error.body,
        `{"data":{"value":"[redacted]","count":2,"list":["[redacted]",true,null,{"k":"[redacted]"}]},` +
          `"message":"[redacted]","flag":false}`
      )
    }))

  it.effect("a success that is no token response shows the names of its form, every value masked", () =>
    Effect.gen(function*() {
      const error = invalid(
        yield* judged(
          chunked(["scope=api&token=tok&note=hello+world"], {
            headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }
          })
        )
      )
      assert.strictEqual(error.reason, "access_token is missing")
      assert.strictEqual(error.body, "scope=[redacted]&token=[redacted]&note=[redacted]")
    }))

  it.effect("a member named __proto__ is shown, masked, like any other", () =>
    Effect.gen(function*() {
      const error = invalid(yield* judged(chunked([`{"__proto__":{"token":"tok"},"note":"n"}`])))
      assert.strictEqual(error.body, `{"__proto__":{"token":"[redacted]"},"note":"[redacted]"}`)
    }))

  it.effect("a JSON body nested deeper than eight levels is shown only that deep", () =>
    Effect.gen(function*() {
      const deep = `${"[".repeat(10)}"x"${"]".repeat(10)}`
      const error = invalid(yield* judged(chunked([`{"a":${deep}}`])))
      assert.strictEqual(error.body, `{"a":${"[".repeat(7)}"…"${"]".repeat(7)}}`)
    }))

  it.effect("an error status quotes the body itself, masked, not its shape", () =>
    Effect.gen(function*() {
      const error = invalid(yield* judged(chunked([`{"message":"upstream down"}`], { status: 502 })))
      assert.strictEqual(error.reason, "HTTP 502 without an OAuth 2.0 error response")
      assert.strictEqual(error.body, `{"message":"upstream down"}`)
    }))
})

// -----------------------------------------------------------------------------
// Transport failures
// -----------------------------------------------------------------------------

/** A failure with the system's `code`, as Node's sockets and undici make them. */
const systemError = (code: unknown, message = "socket") => Object.assign(new Error(message), { code })

/** What the platform's fetch client fails with: `TypeError: fetch failed`, the system's error its cause. */
const fetchFailed = (cause: unknown) =>
  new HttpClientError.RequestError({
    request,
    reason: "Transport",
    cause: new TypeError("fetch failed", { cause })
  })

const transportOf = (error: HttpClientError.HttpClientError) =>
  Effect.map(client, (client) => transportError(client, ENDPOINT, error))

describe("transportFailure", () => {
  it.effect("finds the code that global fetch buries one cause deep, and says it", () =>
    Effect.gen(function*() {
      const error = yield* transportOf(fetchFailed(systemError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:443")))
      assert.strictEqual(error._tag, "TokenTransportError")
      if (error._tag !== "TokenTransportError") return
      assert.strictEqual(error.reason, "Connect")
      assert.strictEqual(error.description, "ECONNREFUSED")
      assert.strictEqual(
        error.message,
        `Client "billing" could not connect to the token endpoint ${ENDPOINT}: ECONNREFUSED`
      )
    }))

  it.effect("a connection lost under fetch is a Reset, in the words of undici's code", () =>
    Effect.gen(function*() {
      const error = yield* transportOf(fetchFailed(systemError("UND_ERR_SOCKET", "other side closed")))
      assert.strictEqual(
        error.message,
        `Client "billing" lost the connection to the token endpoint ${ENDPOINT}: UND_ERR_SOCKET`
      )
    }))

  const connect = ["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED"]
  const reset = ["ECONNRESET", "EPIPE", "UND_ERR_SOCKET", "UND_ERR_CLOSED"]

  it("tells a connection never made from one lost, by the system's code", () => {
    for (const code of connect) {
      assert.deepStrictEqual(transportFailure(fetchFailed(systemError(code))), { reason: "Connect", description: code })
    }
    for (const code of reset) {
      assert.deepStrictEqual(transportFailure(fetchFailed(systemError(code))), { reason: "Reset", description: code })
    }
    assert.deepStrictEqual(transportFailure(fetchFailed(systemError("ETIMEDOUT"))), {
      reason: "Transport",
      description: "ETIMEDOUT"
    })
  })

  it("reads the code where Node's own client puts it, on the cause itself", () => {
    const error = new HttpClientError.RequestError({ request, reason: "Transport", cause: systemError("EPIPE") })
    assert.deepStrictEqual(transportFailure(error), { reason: "Reset", description: "EPIPE" })
  })

  it("passes over a code that is not a string, to the system's code beneath", () => {
    const cause = Object.assign(new Error("wrapped"), { code: 42, cause: systemError("ENOTFOUND") })
    assert.deepStrictEqual(transportFailure(fetchFailed(cause)), { reason: "Connect", description: "ENOTFOUND" })
  })

  it("searches five causes below the platform's error, and no deeper", () => {
    const fifth = { cause: { cause: { cause: systemError("EHOSTUNREACH") } } }
    assert.deepStrictEqual(transportFailure(fetchFailed(fifth)), { reason: "Connect", description: "EHOSTUNREACH" })
    const sixth = { cause: fifth }
    assert.deepStrictEqual(transportFailure(fetchFailed(sixth)), { reason: "Transport", description: "Transport" })
  })

  it("ends on a cause that is null", () => {
    assert.deepStrictEqual(transportFailure(fetchFailed(null)), { reason: "Transport", description: "Transport" })
  })

  it("ends on a chain of causes that loops, without a code", () => {
    const looping: { cause?: unknown } = new Error("loop")
    looping.cause = looping
    assert.deepStrictEqual(transportFailure(fetchFailed(looping)), { reason: "Transport", description: "Transport" })
  })

  it("without a code: the platform's reason, or a body that could not be read", () => {
    assert.deepStrictEqual(transportFailure(fetchFailed("not an object")), {
      reason: "Transport",
      description: "Transport"
    })
    const response = HttpClientResponse.fromWeb(request, new Response("x"))
    const bodyLost = new HttpClientError.ResponseError({ request, response, reason: "Decode", cause: new Error("x") })
    assert.deepStrictEqual(transportFailure(bodyLost), {
      reason: "Reset",
      description: "the response body could not be read"
    })
    const resetWhileReading = new HttpClientError.ResponseError({
      request,
      response,
      reason: "Decode",
      cause: systemError("ECONNRESET")
    })
    assert.deepStrictEqual(transportFailure(resetWhileReading), { reason: "Reset", description: "ECONNRESET" })
  })
})

describe("transportError", () => {
  const certificateError = () => fetchFailed(systemError("ERR_OSSL_X509_KEY_VALUES_MISMATCH", "key values mismatch"))

  it.effect("a client certificate and key that TLS refuses is the client's configuration, not the transport", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const mtls = yield* ClientCredentialsClient.make({
        tokenEndpoint: ENDPOINT,
        clientId: "worker",
        authentication: {
          method: "tls_client_auth",
          certificate: Redacted.make(worker.certificate),
          privateKey: worker.privateKey
        }
      }, "billing")
      const error = transportError(mtls, ENDPOINT, certificateError())
      assert.strictEqual(error._tag, "ClientConfigurationError")
      assert.strictEqual(
        error.message,
        `Client "billing" is misconfigured: authentication holds a certificate and key that the TLS library refuses ` +
          "(ERR_OSSL_X509_KEY_VALUES_MISMATCH): check that the private key is the certificate's own"
      )
      // Any other failure of the same client stays a transport failure.
      const refused = transportError(mtls, ENDPOINT, fetchFailed(systemError("ECONNREFUSED")))
      assert.strictEqual(refused._tag, "TokenTransportError")
    }))

  it.effect("an OpenSSL code without a client certificate is a transport failure that says the code", () =>
    Effect.gen(function*() {
      const error = yield* transportOf(certificateError())
      assert.strictEqual(error._tag, "TokenTransportError")
      assert.strictEqual(
        error.message,
        `Client "billing" failed to talk to the token endpoint ${ENDPOINT}: ERR_OSSL_X509_KEY_VALUES_MISMATCH`
      )
    }))
})
