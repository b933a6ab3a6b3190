// @ts-nocheck
import { TokenError } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { Duration } from "effect"

const refused = (status: number, error: string, retryAfter?: Duration.Duration) =>
  new TokenError.TokenRefusedError({ client: "billing", status, error, ...(retryAfter ? { retryAfter } : {}) })

const invalid = (status: number) =>
  new TokenError.InvalidTokenResponseError({ client: "billing", status, reason: "the body is empty", body: "" })

const transport = (reason: "Connect" | "Reset" | "Timeout" | "Transport") =>
  new TokenError.TokenTransportError({
    client: "billing",
    reason,
    endpoint: "https://auth.example.com/token",
    description: "ECONNREFUSED"
  })

describe("isRetryable", () => {
  const table: ReadonlyArray<readonly [string, TokenError.TokenEndpointError, boolean]> = [
    ["invalid_client on 401", refused(401, "invalid_client"), false],
    ["invalid_client on 503", refused(503, "invalid_client"), false],
    ["invalid_client on 429", refused(429, "invalid_client"), false],
    ["invalid_scope on 400", refused(400, "invalid_scope"), false],
    ["invalid_target on 400", refused(400, "invalid_target"), false],
    ["invalid_grant on 400", refused(400, "invalid_grant"), false],
    ["unauthorized_client on 400", refused(400, "unauthorized_client"), false],
    ["unsupported_grant_type on 400", refused(400, "unsupported_grant_type"), false],
    ["access_denied on 403", refused(403, "access_denied"), false],
    ["an error member in a 200", refused(200, "something_odd"), false],
    ["an unknown error on 400", refused(400, "something_odd"), false],
    ["temporarily_unavailable on 400", refused(400, "temporarily_unavailable"), true],
    ["server_error on 400", refused(400, "server_error"), true],
    ["slow_down on 400", refused(400, "slow_down"), true],
    ["an unknown error on 503", refused(503, "overloaded"), true],
    ["an unknown error on 429", refused(429, "rate_limited"), true],
    ["429 without an OAuth 2.0 body", invalid(429), true],
    ["408 without an OAuth 2.0 body", invalid(408), true],
    ["500 without an OAuth 2.0 body", invalid(500), true],
    ["502 without an OAuth 2.0 body", invalid(502), true],
    ["503 without an OAuth 2.0 body", invalid(503), true],
    ["an HTML page in a 200", invalid(200), false],
    ["404 without an OAuth 2.0 body", invalid(404), false],
    ["400 without an OAuth 2.0 body", invalid(400), false],
    ["a refused connection", transport("Connect"), true],
    ["a reset connection", transport("Reset"), true],
    ["a timeout", transport("Timeout"), true],
    ["another transport failure", transport("Transport"), true],
    [
      "a configuration error",
      new TokenError.ClientConfigurationError({ client: "billing", field: "scope", reason: "is invalid" }),
      false
    ]
  ]
  for (const [name, error, expected] of table) {
    it(`${name}: ${expected ? "retryable" : "not retryable"}`, () => {
      assert.strictEqual(TokenError.isRetryable(error), expected)
    })
  }
})

describe("messages", () => {
  it("TokenRefusedError names the client, the error, its description and the status", () => {
    assert.strictEqual(
      new TokenError.TokenRefusedError({
        client: "billing",
        status: 400,
        error: "invalid_scope",
        errorDescription: "scope 'admin' is not allowed"
      }).message,
      `The token endpoint refused client "billing" with invalid_scope: scope 'admin' is not allowed (HTTP 400)`
    )
    assert.strictEqual(
      refused(429, "slow_down", Duration.seconds(3)).message,
      `The token endpoint refused client "billing" with slow_down (HTTP 429, retry after 3s)`
    )
  })

  it("InvalidTokenResponseError names the client, status, content type and reason, and quotes the body", () => {
    assert.strictEqual(
      new TokenError.InvalidTokenResponseError({
        client: "billing",
        status: 200,
        contentType: "text/html",
        reason: "the body is an HTML page, not JSON",
        body: "<h1>Sign in</h1>"
      }).message,
      `The token endpoint sent client "billing" an invalid token response (HTTP 200, text/html): the body is an HTML page, not JSON; body: "<h1>Sign in</h1>"`
    )
    assert.strictEqual(
      invalid(503).message,
      `The token endpoint sent client "billing" an invalid token response (HTTP 503, no content type): the body is empty; empty body`
    )
  })

  it("TokenTransportError says what went wrong in words", () => {
    assert.strictEqual(
      transport("Connect").message,
      `Client "billing" could not connect to the token endpoint https://auth.example.com/token: ECONNREFUSED`
    )
    assert.include(transport("Reset").message, "lost the connection to the token endpoint")
    assert.include(transport("Timeout").message, "got no answer in time from the token endpoint")
    assert.include(transport("Transport").message, "failed to talk to the token endpoint")
  })

  it("ClientConfigurationError names the client and the field", () => {
    assert.strictEqual(
      new TokenError.ClientConfigurationError({ client: "billing", field: "scope", reason: "is invalid" }).message,
      `Client "billing" is misconfigured: scope is invalid`
    )
  })

  it("UnknownClientError lists the known clients", () => {
    assert.strictEqual(
      new TokenError.UnknownClientError({ client: "bililng", known: ["billing", "search"] }).message,
      `No client named "bililng" is registered (known clients: "billing", "search")`
    )
    assert.strictEqual(
      new TokenError.UnknownClientError({ known: ["billing", "search"] }).message,
      `No client name was given and 2 clients are registered ("billing", "search"): name one`
    )
    assert.strictEqual(
      new TokenError.UnknownClientError({ client: "x", known: [] }).message,
      `No client named "x" is registered (known clients: none)`
    )
  })

  it("TokenCacheError names the operation", () => {
    assert.strictEqual(
      new TokenError.TokenCacheError({ operation: "get", description: "redis is down" }).message,
      "Token cache get failed: redis is down"
    )
  })
})

describe("isTokenError", () => {
  it("recognises every error of the library and nothing else", () => {
    assert.isTrue(TokenError.isTokenError(refused(400, "invalid_scope")))
    assert.isTrue(TokenError.isTokenError(invalid(500)))
    assert.isTrue(TokenError.isTokenError(transport("Timeout")))
    assert.isTrue(TokenError.isTokenError(new TokenError.UnknownClientError({ known: [] })))
    assert.isTrue(TokenError.isTokenError(new TokenError.TokenCacheError({ operation: "set", description: "x" })))
    assert.isFalse(TokenError.isTokenError(new Error("x")))
    assert.isFalse(TokenError.isTokenError({ _tag: "TokenRefusedError" }))
    assert.isFalse(TokenError.isTokenError(null))
  })
})
