// @ts-nocheck
import { AccessToken } from "@access-token/core"
import { assert, describe, it } from "@effect/vitest"
import { DateTime, Duration, Either, Inspectable, Redacted, Schema } from "effect"
import { inspect } from "node:util"
import { normalizeTokenType } from "../src/internal/tokenType.js"

const TOKEN = "tok-Sentinel-7f3a9c"

const decode = Schema.decodeUnknownEither(AccessToken.TokenResponse)

const receivedAt = DateTime.unsafeMake("2024-05-01T12:00:00Z")

describe("TokenResponse", () => {
  const accepted: ReadonlyArray<readonly [string, unknown, Partial<AccessToken.TokenResponse>]> = [
    ["a complete response", { access_token: TOKEN, token_type: "Bearer", expires_in: 3600, scope: "api" }, {
      access_token: TOKEN,
      token_type: "Bearer",
      expires_in: 3600,
      scope: "api"
    }],
    ["only an access token", { access_token: TOKEN }, { access_token: TOKEN }],
    ["expires_in as a string", { access_token: TOKEN, expires_in: "3600" }, { expires_in: 3600 }],
    ["expires_in as a padded string", { access_token: TOKEN, expires_in: " 60 " }, { expires_in: 60 }],
    ["expires_in in exponent form", { access_token: TOKEN, expires_in: "3.6e3" }, { expires_in: 3600 }],
    ["expires_in with a fraction", { access_token: TOKEN, expires_in: 1.5 }, { expires_in: 1.5 }],
    ["expires_in 0", { access_token: TOKEN, expires_in: 0 }, { expires_in: 0 }],
    ["expires_in 1e308, clamped", { access_token: TOKEN, expires_in: 1e308 }, { expires_in: 86400 }],
    ["expires_in \"1e308\", clamped", { access_token: TOKEN, expires_in: "1e308" }, { expires_in: 86400 }],
    ["expires_in just above a day, clamped", { access_token: TOKEN, expires_in: 86401 }, { expires_in: 86400 }],
    ["refresh_in", { access_token: TOKEN, refresh_in: "1800" }, { refresh_in: 1800 }],
    ["a JWT access token", { access_token: "eyJ.eyJ.sig-_~+/=" }, { access_token: "eyJ.eyJ.sig-_~+/=" }],
    ["extra members", { access_token: TOKEN, issued_token_type: "urn:x", n: 1 }, {
      issued_token_type: "urn:x",
      n: 1
    }]
  ]
  for (const [name, input, expected] of accepted) {
    it(`accepts ${name}`, () => {
      const result = decode(input)
      assert.isTrue(Either.isRight(result), String(Either.isLeft(result) ? result.left : ""))
      const decoded = Either.getOrThrow(result) as Record<string, unknown>
      for (const [key, value] of Object.entries(expected)) {
        assert.deepStrictEqual(decoded[key], value, key)
      }
    })
  }

  const rejected: ReadonlyArray<readonly [string, unknown]> = [
    ["a missing access_token", { token_type: "Bearer" }],
    ["an empty access_token", { access_token: "" }],
    ["an access_token with a space", { access_token: "abc def" }],
    ["an access_token with a newline", { access_token: "abc\r\nX-Injected: 1" }],
    ["an access_token with a tab", { access_token: "abc\tdef" }],
    ["a non-ASCII access_token", { access_token: "abcé" }],
    ["a numeric access_token", { access_token: 12345 }],
    ["a token_type of two words", { access_token: TOKEN, token_type: "Bearer x" }],
    ["an empty token_type", { access_token: TOKEN, token_type: "" }],
    ["expires_in \"abc\"", { access_token: TOKEN, expires_in: "abc" }],
    ["expires_in -1", { access_token: TOKEN, expires_in: -1 }],
    ["expires_in \"-1\"", { access_token: TOKEN, expires_in: "-1" }],
    ["expires_in \"\"", { access_token: TOKEN, expires_in: "" }],
    ["expires_in \"3600s\"", { access_token: TOKEN, expires_in: "3600s" }],
    ["expires_in \"0x10\"", { access_token: TOKEN, expires_in: "0x10" }],
    ["expires_in \"1e309\" (infinite)", { access_token: TOKEN, expires_in: "1e309" }],
    ["expires_in Infinity", { access_token: TOKEN, expires_in: Infinity }],
    ["expires_in NaN", { access_token: TOKEN, expires_in: NaN }],
    ["expires_in null", { access_token: TOKEN, expires_in: null }],
    ["expires_in true", { access_token: TOKEN, expires_in: true }],
    ["a numeric scope", { access_token: TOKEN, scope: 1 }],
    ["not an object", "access_token"]
  ]
  for (const [name, input] of rejected) {
    it(`rejects ${name}`, () => {
      assert.isTrue(Either.isLeft(decode(input)))
    })
  }
})

describe("fromResponse", () => {
  it("turns a response into a token received at the given time", () => {
    const token = AccessToken.fromResponse(
      Schema.decodeUnknownSync(AccessToken.TokenResponse)({
        access_token: TOKEN,
        token_type: "bearer",
        expires_in: "3600",
        refresh_in: 1800,
        scope: "api read",
        refresh_token: "must-not-be-kept",
        id_token: "must-not-be-kept",
        issued_token_type: "urn:ietf:params:oauth:token-type:access_token"
      }),
      receivedAt
    )
    assert.strictEqual(Redacted.value(token.value), TOKEN)
    assert.strictEqual(token.type, "Bearer")
    assert.strictEqual(token.scope, "api read")
    assert.isTrue(DateTime.Equivalence(token.receivedAt, receivedAt))
    assert.strictEqual(DateTime.formatIso(token.expiresAt!), "2024-05-01T13:00:00.000Z")
    assert.strictEqual(DateTime.formatIso(token.refreshAt!), "2024-05-01T12:30:00.000Z")
    assert.deepStrictEqual(token.extra, { issued_token_type: "urn:ietf:params:oauth:token-type:access_token" })
  })

  it("leaves expiresAt and refreshAt undefined when the server sent no lifetime", () => {
    const token = AccessToken.fromResponse({ access_token: TOKEN }, receivedAt)
    assert.isUndefined(token.expiresAt)
    assert.isUndefined(token.refreshAt)
    assert.strictEqual(token.type, "Bearer")
  })

  it("a token with expires_in 0 expires when it is received", () => {
    const token = AccessToken.fromResponse({ access_token: TOKEN, expires_in: 0 }, receivedAt)
    assert.isTrue(DateTime.Equivalence(token.expiresAt!, receivedAt))
  })
})

describe("normalizeTokenType", () => {
  const table: ReadonlyArray<readonly [string | undefined, string]> = [
    [undefined, "Bearer"],
    ["bearer", "Bearer"],
    ["BEARER", "Bearer"],
    ["Bearer", "Bearer"],
    ["dpop", "DPoP"],
    ["DPOP", "DPoP"],
    ["N_A", "N_A"],
    ["mac", "mac"]
  ]
  for (const [input, expected] of table) {
    it(`${String(input)} -> ${expected}`, () => {
      assert.strictEqual(normalizeTokenType(input), expected)
    })
  }
})

describe("AccessToken", () => {
  const token = AccessToken.make({ value: TOKEN, type: "dpop", receivedAt, expiresIn: "1 hour", scope: "api" })

  it("authorization is the header value: scheme, space, token", () => {
    assert.strictEqual(token.authorization, `DPoP ${TOKEN}`)
    assert.strictEqual(AccessToken.make({ value: TOKEN, receivedAt }).authorization, `Bearer ${TOKEN}`)
  })

  it("make computes the expiry from expiresIn", () => {
    assert.strictEqual(DateTime.formatIso(token.expiresAt!), "2024-05-01T13:00:00.000Z")
    assert.isUndefined(AccessToken.make({ value: TOKEN, receivedAt }).expiresAt)
    assert.deepStrictEqual(token.extra, {})
  })

  it("never shows the token value when printed, logged or serialised", () => {
    const renderings = [
      String(token),
      token.toString(),
      JSON.stringify(token),
      JSON.stringify({ nested: [token] }),
      inspect(token, { depth: 10 }),
      Inspectable.format(token),
      `${token.value}`,
      String(token.value)
    ]
    for (const rendering of renderings) {
      assert.notInclude(rendering, TOKEN)
    }
    assert.include(JSON.stringify(token), "redacted")
  })

  it("survives a Schema round-trip, which is how caches store it", () => {
    const encoded = Schema.encodeSync(AccessToken.AccessToken)(token)
    const decoded = Schema.decodeUnknownSync(AccessToken.AccessToken)(JSON.parse(JSON.stringify(encoded)))
    assert.strictEqual(Redacted.value(decoded.value), TOKEN)
    assert.strictEqual(decoded.type, "DPoP")
    assert.isTrue(DateTime.Equivalence(decoded.expiresAt!, token.expiresAt!))
    assert.strictEqual(decoded.scope, "api")
  })

  it("maxExpiresIn is one day", () => {
    assert.isTrue(Duration.equals(AccessToken.maxExpiresIn, Duration.days(1)))
  })
})
