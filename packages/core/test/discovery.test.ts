import { ClientCredentialsClient } from "@access-token/core"
import { TestCertificates } from "@access-token/testing"
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Either, Redacted } from "effect"
import {
  decodeDocument,
  issuerOfUrl,
  maxAgeOf,
  parseIssuer,
  parseObject,
  targetOf,
  wellKnownUrl
} from "../src/internal/discovery.js"

const ISSUER = "https://as.example.com"
const LOCATION = `${ISSUER}/.well-known/oauth-authorization-server`

/** The message of the error `result` holds, or a failed assertion when it holds a value. */
const messageOf = <A>(result: Either.Either<A, { readonly message: string }>): string =>
  Either.isLeft(result) ? result.left.message : assert.fail("expected an error, got a value")

const refusedIssuer = (issuer: string, description: string) => `The issuer "${issuer}" cannot be used: ${description}`

const unusableDocument = (description: string) =>
  `The authorization server metadata of issuer "${ISSUER}" at ${LOCATION} is unusable: ${description}`

describe("issuerOfUrl", () => {
  it("a root path is read as no path; any other path, a query or a fragment is kept as written", () => {
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com")), "https://login.example.com")
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com/")), "https://login.example.com")
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com/a/")), "https://login.example.com/a/")
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com/a")), "https://login.example.com/a")
    // An empty query or fragment stays, so that the issuer check refuses it.
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com/?")), "https://login.example.com/?")
    assert.strictEqual(issuerOfUrl(new URL("https://login.example.com/#")), "https://login.example.com/#")
  })
})

describe("wellKnownUrl", () => {
  it("an issuer with a path keeps all of it but a terminating slash", () => {
    const issuer = new URL("https://as.example.com:8443/a/b/")
    assert.strictEqual(
      wellKnownUrl(issuer, "oauth-authorization-server"),
      "https://as.example.com:8443/.well-known/oauth-authorization-server/a/b"
    )
    assert.strictEqual(
      wellKnownUrl(issuer, "openid-configuration"),
      "https://as.example.com:8443/a/b/.well-known/openid-configuration"
    )
  })
})

describe("parseIssuer", () => {
  const refusal = (issuer: string, allowInsecureTransport = false) => {
    const result = parseIssuer(issuer, allowInsecureTransport)
    if (Either.isRight(result)) return assert.fail(`${issuer} was accepted`)
    assert.strictEqual(result.left.reason, "Issuer")
    assert.strictEqual(result.left.location, undefined)
    return result.left.message
  }

  it("an https issuer, or plain http on loopback or when allowed, is the URL it names", () => {
    for (
      const [issuer, allowInsecureTransport] of [
        [`${ISSUER}/tenants/a`, false],
        ["http://127.0.0.1:8080/realm", false],
        ["http://localhost:8080", false],
        ["http://as.internal:8080", true]
      ] as const
    ) {
      const parsed = parseIssuer(issuer, allowInsecureTransport)
      assert.strictEqual(Either.isRight(parsed) && parsed.right.href, new URL(issuer).href, issuer)
    }
  })

  it("an issuer that is no absolute URL is refused", () => {
    assert.strictEqual(refusal("as.example.com"), refusedIssuer("as.example.com", "must be an absolute URL"))
    assert.strictEqual(refusal("/tenants/a"), refusedIssuer("/tenants/a", "must be an absolute URL"))
  })

  it("an issuer that is no http(s) URL is refused", () => {
    for (const issuer of ["ftp://as.example.com", "urn:example:issuer", "file:///etc/issuer"]) {
      assert.strictEqual(refusal(issuer, true), refusedIssuer(issuer, "must be an https URL"))
    }
  })

  it("an issuer with a query or a fragment, even an empty one, is refused (RFC 8414 §2)", () => {
    for (const issuer of [`${ISSUER}?tenant=a`, `${ISSUER}/?`, `${ISSUER}#main`, `${ISSUER}/#`, `${ISSUER}/a?#`]) {
      assert.strictEqual(refusal(issuer), refusedIssuer(issuer, "must have no query or fragment (RFC 8414 §2)"))
    }
  })

  it("an issuer holding a user name, a password or both is refused, and the message quotes neither", () => {
    for (const credentials of ["user:pass", "user", ":pass"]) {
      assert.strictEqual(
        refusal(`https://${credentials}@as.example.com/realm`),
        refusedIssuer("https://[redacted]@as.example.com/realm", "must not hold credentials")
      )
    }
    // Whatever else is wrong with the issuer, the credentials are what the message is about.
    assert.strictEqual(
      refusal("ftp://user:pass@as.example.com:2121/a?b#c"),
      refusedIssuer("ftp://[redacted]@as.example.com:2121/a?b#c", "must not hold credentials")
    )
    assert.strictEqual(
      refusal("http://user:pass@as.example.com"),
      refusedIssuer("http://[redacted]@as.example.com/", "must not hold credentials")
    )
  })

  it("a plain http issuer off loopback is refused unless allowed, naming its host", () => {
    assert.strictEqual(
      refusal("http://as.example.com:8080/realm"),
      refusedIssuer(
        "http://as.example.com:8080/realm",
        "plain http to as.example.com:8080 would let anyone on the network choose where the credentials go: use https, or set allowInsecureTransport"
      )
    )
  })
})

describe("parseObject", () => {
  it("says why a body is no JSON object, never quoting it", () => {
    assert.strictEqual(parseObject(""), "the body is empty")
    assert.strictEqual(parseObject(" \n\t "), "the body is empty")
    assert.strictEqual(parseObject("{\"issuer\":"), "the body is not valid JSON")
    for (const body of ["null", "[]", "[{\"issuer\":\"x\"}]", "42", "\"text\"", "true"]) {
      assert.strictEqual(parseObject(body), "the body is not a JSON object", body)
    }
  })

  it("an object is kept as sent, but for its __proto__ members", () => {
    assert.deepStrictEqual(parseObject(" {\"issuer\":\"x\",\"n\":{\"a\":[1,null]}} "), {
      issuer: "x",
      n: { a: [1, null] }
    })
    const parsed = parseObject("{\"__proto__\":{\"polluted\":true},\"a\":{\"__proto__\":1,\"b\":2}}")
    assert.deepStrictEqual(parsed, { a: { b: 2 } })
    assert.deepStrictEqual(Object.keys(parsed), ["a"])
  })
})

describe("decodeDocument", () => {
  const documentOf = (members: Record<string, unknown> = {}) => ({
    issuer: ISSUER,
    token_endpoint: `${ISSUER}/token`,
    ...members
  })
  const decode = (body: Record<string, unknown>, allowInsecureTransport = false) =>
    decodeDocument(ISSUER, LOCATION, body, allowInsecureTransport)

  it("a document for the issuer is its metadata, unknown members kept", () => {
    const body = documentOf({ scopes_supported: ["api"], vendor: { x: 1 } })
    assert.deepStrictEqual(decode(body), Either.right(body))
    assert.deepStrictEqual(decode({ issuer: ISSUER }), Either.right({ issuer: ISSUER }), "no token endpoint")
  })

  it("a malformed document names each member at fault, without quoting its value", () => {
    const missing = decode({ token_endpoint: `${ISSUER}/token` })
    assert.strictEqual(Either.isLeft(missing) && missing.left.reason, "Malformed")
    assert.strictEqual(messageOf(missing), unusableDocument("issuer is missing"))
    const wrong = decode(documentOf({ scopes_supported: "secret-scope", mtls_endpoint_aliases: { token_endpoint: 7 } }))
    // Each member once, although an optional one fails both its type and `undefined`.
    assert.strictEqual(
      messageOf(wrong),
      unusableDocument(
        "scopes_supported has the wrong type; mtls_endpoint_aliases.token_endpoint has the wrong type; mtls_endpoint_aliases has the wrong type"
      )
    )
    assert.notInclude(messageOf(wrong), "secret-scope")
  })

  it("a document for another issuer is refused, quoting that issuer", () => {
    const other = decode(documentOf({ issuer: "https://other.example.com" }))
    assert.strictEqual(Either.isLeft(other) && other.left.reason, "IssuerMismatch")
    assert.strictEqual(
      messageOf(other),
      unusableDocument(
        "the document is for issuer \"https://other.example.com\": it must name the configured issuer exactly, character for character (RFC 8414 §3.3)"
      )
    )
    // A slash elsewhere than at the end is no slip of the trailing slash.
    const inside = decodeDocument(`${ISSUER}/a`, LOCATION, { issuer: `${ISSUER}a/` }, false)
    assert.notInclude(messageOf(inside), "trailing slash")
  })

  it("a token endpoint that is no absolute http(s) URL is refused", () => {
    for (const endpoint of ["/token", "token", "ftp://as.example.com/token", "urn:token"]) {
      const result = decode(documentOf({ token_endpoint: endpoint }), true)
      assert.strictEqual(Either.isLeft(result) && result.left.reason, "Malformed", endpoint)
      assert.strictEqual(messageOf(result), unusableDocument("token_endpoint must be an absolute http(s) URL"))
    }
  })

  it("a token endpoint over plain http is refused off loopback, unless allowed", () => {
    const insecure = decode(documentOf({ token_endpoint: "http://as.example.com:8080/token" }))
    assert.strictEqual(Either.isLeft(insecure) && insecure.left.reason, "InsecureEndpoint")
    assert.strictEqual(
      messageOf(insecure),
      unusableDocument("the token endpoint is plain http to as.example.com:8080, which would send credentials in clear")
    )
    for (
      const [endpoint, allowInsecureTransport] of [
        ["http://as.example.com/token", true],
        ["http://127.0.0.1:8080/token", false],
        ["https://as.example.com/token", false]
      ] as const
    ) {
      assert.isTrue(Either.isRight(decode(documentOf({ token_endpoint: endpoint }), allowInsecureTransport)), endpoint)
    }
  })
})

describe("maxAgeOf", () => {
  it("reads max-age whatever its case, spacing or quotes", () => {
    assert.deepStrictEqual(maxAgeOf("Max-Age=600"), Duration.seconds(600))
    assert.deepStrictEqual(maxAgeOf("public,max-age=\"300\""), Duration.seconds(300))
    assert.deepStrictEqual(maxAgeOf("  max-age=0  "), Duration.zero)
    assert.deepStrictEqual(maxAgeOf("max-age=60, must-revalidate"), Duration.seconds(60))
  })

  it("no-store and no-cache mean zero, whatever their case or place", () => {
    assert.deepStrictEqual(maxAgeOf("No-Store"), Duration.zero)
    assert.deepStrictEqual(maxAgeOf("public, NO-CACHE, max-age=600"), Duration.zero)
  })

  it("a max-age that is no whole number of seconds says nothing", () => {
    for (
      const header of [
        "max-age",
        "max-age=",
        "max-age=1.5",
        "max-age=-1",
        "max-age=1e3",
        "max-age=x60",
        "max-age=60s",
        "max-age=\"6\"0\""
      ]
    ) {
      assert.strictEqual(maxAgeOf(header), undefined, header)
    }
    assert.strictEqual(maxAgeOf(""), undefined)
    assert.strictEqual(maxAgeOf("s-maxage=60"), undefined)
  })
})

describe("targetOf", () => {
  const clientBy = (overrides: Partial<ClientCredentialsClient.Input> = {}) =>
    Effect.runSync(
      ClientCredentialsClient.make(
        { issuer: ISSUER, clientId: "m2m", clientSecret: Redacted.make("s"), ...overrides },
        "billing"
      )
    )
  const documentOf = (members: Record<string, unknown>) => ({
    metadata: { issuer: ISSUER, ...members },
    location: LOCATION
  })

  it("the token endpoint of the document is where the client sends, with the issuer and the document", () => {
    const discovered = documentOf({ token_endpoint: `${ISSUER}/token` })
    assert.deepStrictEqual(
      targetOf(clientBy(), ISSUER, discovered),
      Either.right({ tokenEndpoint: `${ISSUER}/token`, issuer: ISSUER, metadata: discovered.metadata })
    )
  })

  it("a document without a token endpoint is refused, naming the member", () => {
    const result = targetOf(clientBy(), ISSUER, documentOf({}))
    assert.strictEqual(Either.isLeft(result) && result.left.reason, "Malformed")
    assert.strictEqual(
      messageOf(result),
      unusableDocument("token_endpoint is missing: the document names no token endpoint")
    )
  })

  it("a token endpoint that is no absolute http(s) URL is refused, naming the member", () => {
    for (const endpoint of ["/token", "ftp://as.example.com/token"]) {
      const result = targetOf(
        clientBy({ allowInsecureTransport: true }),
        ISSUER,
        documentOf({ token_endpoint: endpoint })
      )
      assert.strictEqual(Either.isLeft(result) && result.left.reason, "Malformed", endpoint)
      assert.strictEqual(messageOf(result), unusableDocument("token_endpoint must be an absolute http(s) URL"))
    }
  })

  it("a token endpoint over plain http off loopback is refused unless the client allows it", () => {
    const discovered = documentOf({ token_endpoint: "http://as.example.com:8080/token" })
    const refused = targetOf(clientBy(), ISSUER, discovered)
    assert.strictEqual(Either.isLeft(refused) && refused.left.reason, "InsecureEndpoint")
    assert.strictEqual(
      messageOf(refused),
      unusableDocument(
        "token_endpoint is plain http to as.example.com:8080, which would send the client's credentials in clear: use https, or set allowInsecureTransport"
      )
    )
    const allowed = targetOf(clientBy({ allowInsecureTransport: true }), ISSUER, discovered)
    assert.strictEqual(Either.isRight(allowed) && allowed.right.tokenEndpoint, "http://as.example.com:8080/token")
    const loopback = targetOf(clientBy(), ISSUER, documentOf({ token_endpoint: "http://127.0.0.1:8080/token" }))
    assert.strictEqual(Either.isRight(loopback) && loopback.right.tokenEndpoint, "http://127.0.0.1:8080/token")
  })

  it.effect("a certificate client is judged on the mTLS alias it sends to, named in the message", () =>
    Effect.gen(function*() {
      const worker = yield* TestCertificates.selfSigned("worker")
      const withCertificate = yield* ClientCredentialsClient.make({
        issuer: ISSUER,
        clientId: "m2m",
        authentication: {
          method: "self_signed_tls_client_auth",
          certificate: Redacted.make(worker.certificate),
          privateKey: worker.privateKey
        }
      }, "bank")
      const withAlias = (alias: string) =>
        targetOf(
          withCertificate,
          ISSUER,
          documentOf({ token_endpoint: `${ISSUER}/token`, mtls_endpoint_aliases: { token_endpoint: alias } })
        )
      assert.strictEqual(
        messageOf(withAlias("/token")),
        unusableDocument("mtls_endpoint_aliases.token_endpoint must be an absolute http(s) URL")
      )
      assert.include(
        messageOf(withAlias("http://mtls.as.example.com/token")),
        "is unusable: mtls_endpoint_aliases.token_endpoint is plain http to mtls.as.example.com, which would send"
      )
      // The target is the document's; the alias is taken where the request is sent.
      const usable = withAlias("https://mtls.as.example.com/token")
      assert.strictEqual(Either.isRight(usable) && usable.right.tokenEndpoint, `${ISSUER}/token`)
    }))
})
