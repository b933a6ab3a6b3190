import { assert, describe, it } from "@effect/vitest"
import { FastCheck } from "effect"
import {
  basicAuthorization,
  formBody,
  formUrlDecode,
  formUrlEncode,
  parseBasicAuthorization
} from "../src/internal/form.js"
import { redactText } from "../src/internal/redact.js"

/** What the WHATWG URL standard makes of one value: the reference `formUrlEncode` must match. */
const whatwgEncode = (value: string): string => new URLSearchParams({ v: value }).toString().slice("v=".length)

/** RFC 6749 §2.3.1 computed from the platform, independently of the module under test. */
const expectedBasic = (clientId: string, clientSecret: string): string =>
  `Basic ${Buffer.from(`${whatwgEncode(clientId)}:${whatwgEncode(clientSecret)}`, "utf8").toString("base64")}`

const runs = { numRuns: 3000 }

describe("formUrlEncode", () => {
  it("encodes the characters RFC 6749 §2.3.1 cares about", () => {
    assert.strictEqual(formUrlEncode("p@ss:w+rd%/ x~"), "p%40ss%3Aw%2Brd%25%2F+x%7E")
    assert.strictEqual(formUrlEncode("*-._"), "*-._")
    assert.strictEqual(formUrlEncode("!'()"), "%21%27%28%29")
    assert.strictEqual(formUrlEncode("é€😀"), "%C3%A9%E2%82%AC%F0%9F%98%80")
    assert.strictEqual(formUrlEncode(""), "")
  })

  it("matches URLSearchParams for arbitrary Unicode strings", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.fullUnicodeString(), (s) => formUrlEncode(s) === whatwgEncode(s)),
      runs
    )
  })

  it("matches URLSearchParams for arbitrary ASCII, control characters included", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.string({ unit: "binary-ascii" }), (s) => formUrlEncode(s) === whatwgEncode(s)),
      runs
    )
  })

  it("matches URLSearchParams for arbitrary UTF-16 strings, lone surrogates included", () => {
    assert.strictEqual(formUrlEncode("a\uD800b\uDC00"), "a%EF%BF%BDb%EF%BF%BD")
    FastCheck.assert(
      FastCheck.property(
        FastCheck.string({ unit: FastCheck.char16bits() }),
        (s) => formUrlEncode(s) === whatwgEncode(s)
      ),
      runs
    )
  })

  it("is reversed by formUrlDecode", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.fullUnicodeString(), (s) => formUrlDecode(formUrlEncode(s)) === s),
      runs
    )
  })

  it("formUrlDecode reads what URLSearchParams writes, '+' as a space", () => {
    assert.strictEqual(formUrlDecode("a+b%2Bc"), "a b+c")
    FastCheck.assert(
      FastCheck.property(FastCheck.fullUnicodeString(), (s) => formUrlDecode(whatwgEncode(s)) === s),
      runs
    )
  })
})

describe("formBody", () => {
  it("serialises pairs in order exactly as URLSearchParams does", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.array(FastCheck.tuple(FastCheck.fullUnicodeString(), FastCheck.fullUnicodeString()), {
          maxLength: 6
        }),
        (pairs) => formBody(pairs) === new URLSearchParams(pairs).toString()
      ),
      { numRuns: 1000 }
    )
  })

  it("keeps repeated names", () => {
    assert.strictEqual(
      formBody([["resource", "urn:a"], ["resource", "https://b.example/x?y=1"]]),
      "resource=urn%3Aa&resource=https%3A%2F%2Fb.example%2Fx%3Fy%3D1"
    )
  })
})

describe("basicAuthorization", () => {
  it("form-urlencodes id and secret before base64 (RFC 6749 §2.3.1)", () => {
    // "my client:p%40ss%3Aw%2Brd%25%2F+x%7E" with the id's space as "+"
    assert.strictEqual(
      basicAuthorization("my client", "p@ss:w+rd%/ x~"),
      `Basic ${Buffer.from("my+client:p%40ss%3Aw%2Brd%25%2F+x%7E").toString("base64")}`
    )
    assert.strictEqual(basicAuthorization("worker", "secret"), "Basic d29ya2VyOnNlY3JldA==")
  })

  it("matches an independent encoding for arbitrary Unicode ids and secrets", () => {
    FastCheck.assert(
      FastCheck.property(
        FastCheck.fullUnicodeString(),
        FastCheck.fullUnicodeString(),
        (id, secret) => basicAuthorization(id, secret) === expectedBasic(id, secret)
      ),
      runs
    )
  })

  it("round-trips through parseBasicAuthorization for arbitrary Unicode ids and secrets", () => {
    FastCheck.assert(
      FastCheck.property(FastCheck.fullUnicodeString(), FastCheck.fullUnicodeString(), (clientId, clientSecret) => {
        const parsed = parseBasicAuthorization(basicAuthorization(clientId, clientSecret))
        return parsed !== undefined && parsed.clientId === clientId && parsed.clientSecret === clientSecret
      }),
      runs
    )
  })
})

describe("parseBasicAuthorization", () => {
  it("reads a header written by another client", () => {
    assert.deepStrictEqual(parseBasicAuthorization(expectedBasic("a:b", "c d")), {
      clientId: "a:b",
      clientSecret: "c d"
    })
  })

  it("rejects what is not client_secret_basic", () => {
    const b64 = (s: string) => Buffer.from(s).toString("base64")
    for (
      const header of [
        "",
        "Bearer abc",
        "Basic",
        "Basic ",
        `basic ${b64("a:b")}`,
        `Basic ${b64("no-colon")}`,
        `Basic ${b64("a:%zz")}`,
        `Basic ${b64("%E0%A4%A:b")}`,
        "Basic !!!!",
        `Basic ${b64("a:b")} trailing`,
        // Leading text: the scheme must open the header.
        `xBasic ${b64("a:b")}`,
        `Bearer Basic ${b64("a:b")}`,
        // Base64 characters, but not base64: the length is no multiple of 4.
        `Basic ${b64("a:b").slice(0, -1)}`,
        "Basic YWJj="
      ]
    ) {
      assert.isUndefined(parseBasicAuthorization(header), header)
    }
  })
})

describe("redactText", () => {
  const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXZhbHVl"

  it("masks JWTs", () => {
    const out = redactText(`<p>Your token is ${jwt}</p>`, [], 1000)
    assert.notInclude(out, jwt)
    assert.notInclude(out, "eyJzdWIiOiJ3b3JrZXIiLCJleHAiOjE3MDAwMDAwMDB9")
    assert.include(out, "<p>Your token is [redacted]</p>")
  })

  it("masks long opaque strings", () => {
    const opaque = "8xLOxBtZp8QmVm0CbVQ2aJmxN7dlXnW4"
    const out = redactText(`handle ${opaque} end`, [], 1000)
    assert.strictEqual(out, "handle [redacted] end")
  })

  it("masks credential members of JSON, however short their value", () => {
    const out = redactText(
      `{"access_token": "short", "client_secret":"x\\"y", "refresh_token" : "r", "error":"invalid_scope"}`,
      [],
      1000
    )
    assert.strictEqual(
      out,
      `{"access_token": "[redacted]", "client_secret":"[redacted]", "refresh_token" : "[redacted]", "error":"invalid_scope"}`
    )
  })

  it("masks a credential member cut short by a truncated body", () => {
    assert.strictEqual(
      redactText(`{"scope":"api","access_token":"tok-short`, [], 1000),
      `{"scope":"api","access_token":"[redacted]"`
    )
    assert.strictEqual(redactText(`{"access_token":"tok\\`, [], 1000), `{"access_token":"[redacted]"`)
  })

  it("masks credential pairs of a form body", () => {
    assert.strictEqual(
      redactText("access_token=abc&scope=repo&token_type=bearer", [], 1000),
      "access_token=[redacted]&scope=repo&token_type=bearer"
    )
  })

  it("masks the given secrets wherever they appear", () => {
    const secret = "p@ss:w+rd%/ x~"
    const out = redactText(`bad secret ${secret} for client, again:${secret}.`, [secret], 1000)
    assert.strictEqual(out, "bad secret [redacted] for client, again:[redacted].")
  })

  it("ignores an empty secret", () => {
    assert.strictEqual(redactText("plain text", [""], 1000), "plain text")
  })

  it("keeps ordinary error text readable", () => {
    const text = `{"error":"invalid_client","error_description":"Client authentication failed"}`
    assert.strictEqual(redactText(text, [], 1000), text)
  })

  it("cuts the result to maxLength after masking, so a cut cannot reveal part of a secret", () => {
    const secret = "0123456789abcdef"
    const out = redactText(`xx${secret}yy`, [secret], 6)
    assert.strictEqual(out, "xx[red…")
    assert.strictEqual(redactText("abcdef", [], 6), "abcdef")
  })
})
