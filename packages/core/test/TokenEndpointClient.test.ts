import { AccessToken, ClientCredentialsClient, TokenEndpointClient, type TokenError } from "@access-token/core"
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import {
  Cause,
  DateTime,
  Duration,
  Effect,
  Exit,
  Fiber,
  Layer,
  Option,
  Redacted,
  Schedule,
  TestClock,
  Tracer
} from "effect"
import { inspect } from "node:util"
import { basicAuthorization, formBody, formUrlEncode } from "../src/internal/form.js"
import { reservedByTheRfcs } from "./utils/reservedParameters.js"

// -----------------------------------------------------------------------------
// Credentials every test watches for
// -----------------------------------------------------------------------------

/** RFC 6749 §2.3.1's hard case: every character that form-urlencoding changes. */
const SECRET = "p@ss:w+rd%/ x~"
/** The secret as it travels in a form body, written out by hand. */
const SECRET_FORM = "p%40ss%3Aw%2Brd%25%2F+x%7E"
/** A client id that must be encoded too: a colon would otherwise end it early in the Basic header. */
const CLIENT_ID = "svc:billing"
const CLIENT_ID_FORM = "svc%3Abilling"
/** The Basic credentials, built by hand from the encoded id and secret. */
const BASIC = `Basic ${Buffer.from(`${CLIENT_ID_FORM}:${SECRET_FORM}`, "utf8").toString("base64")}`
/** Every access token in these tests contains this marker, so any leak of any of them is caught. */
const MARKER = "Sentinel"
const TOKEN = `tok-${MARKER}-2f9d1c7e`

const ENDPOINT = "https://auth.example.com/connect/token"

/** Nothing a user sees (error, log line, span) may contain one of these. */
const forbidden = [SECRET, SECRET_FORM, BASIC.slice("Basic ".length), MARKER]

const assertClean = (what: string, text: string) => {
  for (const credential of forbidden) {
    assert.notInclude(text, credential, `${what} reveals a credential`)
  }
}

// -----------------------------------------------------------------------------
// A scripted token endpoint
// -----------------------------------------------------------------------------

interface Recorded {
  readonly method: string
  readonly url: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

type Reply =
  | { readonly status?: number; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
  | "never"
  | { readonly transport: string | undefined }

const json = (status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): Reply => ({
  status,
  body: typeof body === "string" ? body : JSON.stringify(body),
  headers: { "content-type": "application/json;charset=UTF-8", ...headers }
})

const tokenReply = (members: Record<string, unknown> = {}): Reply =>
  json(200, { access_token: TOKEN, token_type: "Bearer", expires_in: 3600, ...members })

const refused: Reply = { transport: "ECONNREFUSED" }

const textDecoder = new TextDecoder()

const bodyText = (request: HttpClientRequest.HttpClientRequest): string => {
  const body = request.body
  switch (body._tag) {
    case "Empty":
      return ""
    case "Uint8Array":
      return textDecoder.decode(body.body)
    default:
      throw new Error(`unexpected body ${body._tag}`)
  }
}

/** Answers the n-th request with the n-th reply; the last reply repeats forever. */
const fakeEndpoint = (replies: ReadonlyArray<Reply>) => {
  const requests: Array<Recorded> = []
  const http = HttpClient.make((request) => {
    requests.push({
      method: request.method,
      url: request.url,
      headers: { ...request.headers },
      body: bodyText(request)
    })
    const reply = replies[Math.min(requests.length, replies.length) - 1]
    if (reply === "never") return Effect.never
    if ("transport" in reply) {
      return Effect.fail(
        new HttpClientError.RequestError({
          request,
          reason: "Transport",
          cause: reply.transport === undefined
            ? new Error("something broke")
            : Object.assign(new Error("connect"), { code: reply.transport })
        })
      )
    }
    return Effect.succeed(
      HttpClientResponse.fromWeb(
        request,
        new Response(reply.body ?? "", { status: reply.status ?? 200, headers: reply.headers ?? {} })
      )
    )
  })
  return { http, requests }
}

// -----------------------------------------------------------------------------
// A tracer that keeps every span it starts
// -----------------------------------------------------------------------------

const recordingTracer = Effect.map(Effect.tracer, (base) => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (...args) => {
      const span = base.span(...args)
      spans.push(span)
      return span
    },
    context: (f, fiber) => base.context(f, fiber)
  })
  return { tracer, spans }
})

const spanText = (span: Tracer.Span): string => {
  const events = (span as { readonly events?: ReadonlyArray<unknown> }).events ?? []
  return [span.name, ...Array.from(span.attributes, ([key, value]) => `${key}=${String(value)}`), inspect(events)]
    .join("\n")
}

// -----------------------------------------------------------------------------
// Running one request
// -----------------------------------------------------------------------------

const clientInput = (overrides: Partial<ClientCredentialsClient.Input> = {}): ClientCredentialsClient.Input => ({
  tokenEndpoint: ENDPOINT,
  clientId: CLIENT_ID,
  clientSecret: Redacted.make(SECRET),
  ...overrides
})

interface Scenario {
  readonly replies: ReadonlyArray<Reply>
  readonly client?: Partial<ClientCredentialsClient.Input> | ClientCredentialsClient.ClientCredentialsClient
  readonly options?: TokenEndpointClient.Options
  readonly parameters?: TokenEndpointClient.RequestParameters
}

type Result = Exit.Exit<AccessToken.AccessToken, TokenError.TokenEndpointError>

/** Starts a request in the background, so that the test can move the clock while it runs. */
const start = (scenario: Scenario) =>
  Effect.gen(function*() {
    const endpoint = fakeEndpoint(scenario.replies)
    const { spans, tracer } = yield* recordingTracer
    const client = scenario.client instanceof ClientCredentialsClient.ClientCredentialsClient
      ? scenario.client
      : yield* ClientCredentialsClient.make(clientInput(scenario.client), "billing")
    const service = yield* TokenEndpointClient.TokenEndpointClient.pipe(
      Effect.provide(
        TokenEndpointClient.layer(scenario.options).pipe(
          Layer.provide(Layer.succeed(HttpClient.HttpClient, endpoint.http))
        )
      )
    )
    const fiber = yield* service.requestToken(client, scenario.parameters).pipe(
      Effect.withTracer(tracer),
      Effect.exit,
      Effect.fork
    )
    return { fiber, requests: endpoint.requests, spans }
  })

type Started = Effect.Effect.Success<ReturnType<typeof start>>

/** Checks that nothing the request left behind (result, error, spans) reveals a credential. */
const assertNothingLeaked = (result: Result, spans: ReadonlyArray<Tracer.Span>) => {
  if (Exit.isSuccess(result)) {
    const token = result.value
    assertClean("String(token)", String(token))
    assertClean("JSON.stringify(token)", JSON.stringify(token))
    assertClean("inspect(token)", inspect(token, { depth: 10 }))
  } else {
    assertClean("Cause.pretty", Cause.pretty(result.cause))
    for (const error of Cause.failures(result.cause)) {
      assertClean("error.message", error.message)
      assertClean("String(error)", String(error))
      assertClean("JSON.stringify(error)", JSON.stringify(error))
      assertClean("inspect(error)", inspect(error, { depth: 10 }))
    }
  }
  for (const span of spans) {
    assertClean(`span ${span.name}`, spanText(span))
  }
}

/** Waits (on the TestClock) until the request is done, at most `within`; fails the test if it is not. */
const settle = (started: Started, within: Duration.DurationInput = "1 minute") =>
  Effect.gen(function*() {
    yield* TestClock.adjust(within)
    const polled = yield* Fiber.poll(started.fiber)
    if (Option.isNone(polled)) {
      return assert.fail(`the request was still running after ${Duration.format(Duration.decode(within))}`)
    }
    const result = Exit.flatten(polled.value)
    assertNothingLeaked(result, started.spans)
    return { result, requests: started.requests, spans: started.spans }
  })

const run = (scenario: Scenario) => Effect.flatMap(start(scenario), (started) => settle(started))

const tokenOf = (result: Result): AccessToken.AccessToken => {
  if (Exit.isFailure(result)) return assert.fail(`expected a token, got ${Cause.pretty(result.cause)}`)
  return result.value
}

const errorOf = (result: Result): TokenError.TokenEndpointError => {
  if (Exit.isSuccess(result)) return assert.fail("expected a failure, got a token")
  const failure = Cause.failureOption(result.cause)
  if (Option.isNone(failure)) return assert.fail(`expected a failure, got ${Cause.pretty(result.cause)}`)
  return failure.value
}

function errorWithTag<Tag extends TokenError.TokenEndpointError["_tag"]>(
  result: Result,
  tag: Tag
): Extract<TokenError.TokenEndpointError, { readonly _tag: Tag }> {
  const error = errorOf(result)
  assert.strictEqual(error._tag, tag, error.message)
  return error as Extract<TokenError.TokenEndpointError, { readonly _tag: Tag }>
}

// -----------------------------------------------------------------------------
// The request on the wire
// -----------------------------------------------------------------------------

const richClient: Partial<ClientCredentialsClient.Input> = {
  scope: "api.read api.write",
  resource: ["https://api.example.com/", "urn:example:audit"],
  parameters: { audience: "https://api.example.com/", "tenant id": "a&b=c+d" }
}

const scopeAndMore = "scope=api.read+api.write" +
  "&resource=https%3A%2F%2Fapi.example.com%2F&resource=urn%3Aexample%3Aaudit" +
  "&audience=https%3A%2F%2Fapi.example.com%2F&tenant+id=a%26b%3Dc%2Bd"

/** Headers the client wrote, without those of trace propagation. */
const ownHeaders = (request: Recorded): Record<string, string> => {
  const { b3: _b3, traceparent: _traceparent, ...own } = request.headers
  return own
}

describe("the token request", () => {
  it("the library's encoder writes the hand-written expectations, as the platform's encoder does", () => {
    const pairs: ReadonlyArray<readonly [string, string]> = [
      ["scope", "api.read api.write"],
      ["resource", "https://api.example.com/"],
      ["resource", "urn:example:audit"],
      ["audience", "https://api.example.com/"],
      ["tenant id", "a&b=c+d"]
    ]
    // The library's own encoder, which every request of this file goes through.
    assert.strictEqual(formUrlEncode(SECRET), SECRET_FORM)
    assert.strictEqual(formUrlEncode(CLIENT_ID), CLIENT_ID_FORM)
    assert.strictEqual(formBody(pairs), scopeAndMore)
    assert.strictEqual(basicAuthorization(CLIENT_ID, SECRET), BASIC)
    // The platform's, so that the expectations are those of the WHATWG standard, not a copy of the library's.
    assert.strictEqual(new URLSearchParams({ s: SECRET }).toString(), `s=${SECRET_FORM}`)
    assert.strictEqual(new URLSearchParams({ s: CLIENT_ID }).toString(), `s=${CLIENT_ID_FORM}`)
    assert.strictEqual(new URLSearchParams(pairs.map(([name, value]) => [name, value])).toString(), scopeAndMore)
    const decoded = Buffer.from(BASIC.slice("Basic ".length), "base64").toString("utf8")
    assert.strictEqual(decoded, "svc%3Abilling:p%40ss%3Aw%2Brd%25%2F+x%7E")
  })

  it.effect("client_secret_basic (the default): credentials in the Authorization header, encoded before base64", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [tokenReply()], client: richClient })
      tokenOf(result)
      assert.strictEqual(requests.length, 1)
      const [request] = requests
      const body = `grant_type=client_credentials&${scopeAndMore}`
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.url, ENDPOINT)
      assert.strictEqual(request.body, body)
      assert.deepStrictEqual(ownHeaders(request), {
        accept: "application/json",
        authorization: BASIC,
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(Buffer.byteLength(body))
      })
    }))

  it.effect("client_secret_post: id and secret in the form body, no Authorization header", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [tokenReply()],
        client: { ...richClient, credentialStyle: "body" }
      })
      tokenOf(result)
      const [request] = requests
      const body =
        `grant_type=client_credentials&client_id=${CLIENT_ID_FORM}&client_secret=${SECRET_FORM}&${scopeAndMore}`
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.body, body)
      assert.deepStrictEqual(ownHeaders(request), {
        accept: "application/json",
        "content-type": "application/x-www-form-urlencoded",
        "content-length": String(Buffer.byteLength(body))
      })
    }))

  it.effect("a public client: client_id in the body, no secret anywhere, no Authorization header", () =>
    Effect.gen(function*() {
      for (const credentialStyle of ["header", "body"] as const) {
        const { requests, result } = yield* run({
          replies: [tokenReply()],
          client: { ...richClient, clientSecret: undefined, credentialStyle, authentication: "none" }
        })
        tokenOf(result)
        const [request] = requests
        const body = `grant_type=client_credentials&client_id=${CLIENT_ID_FORM}&${scopeAndMore}`
        assert.strictEqual(request.body, body)
        assert.deepStrictEqual(ownHeaders(request), {
          accept: "application/json",
          "content-type": "application/x-www-form-urlencoded",
          "content-length": String(Buffer.byteLength(body))
        })
      }
    }))

  it.effect("a client with nothing but credentials sends only the grant type", () =>
    Effect.gen(function*() {
      const { requests } = yield* run({ replies: [tokenReply()] })
      assert.strictEqual(requests[0].body, "grant_type=client_credentials")
      assert.strictEqual(requests[0].headers.authorization, BASIC)
    }))

  it.effect("a plain ASCII client gets the textbook Basic header", () =>
    Effect.gen(function*() {
      const { requests } = yield* run({
        replies: [tokenReply()],
        client: { clientId: "s6BhdRkqt3", clientSecret: Redacted.make("7Fjfp0ZBr1KtDRbnfVdmIw") }
      })
      // RFC 6749 §2.3.1's own example
      assert.strictEqual(requests[0].headers.authorization, "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3")
    }))

  it.effect("per-request parameters replace the client's scope and resource, and add to its extra parameters", () =>
    Effect.gen(function*() {
      const { requests } = yield* run({
        replies: [tokenReply()],
        client: richClient,
        parameters: {
          scope: "orders:read",
          resource: "https://orders.example.com/",
          parameters: { tenant: "eu", audience: "https://orders.example.com/" }
        }
      })
      assert.strictEqual(
        requests[0].body,
        "grant_type=client_credentials&scope=orders%3Aread&resource=https%3A%2F%2Forders.example.com%2F" +
          "&audience=https%3A%2F%2Forders.example.com%2F&tenant+id=a%26b%3Dc%2Bd&tenant=eu"
      )
    }))

  it.effect("a per-request field left out keeps the client's own", () =>
    Effect.gen(function*() {
      const { requests } = yield* run({ replies: [tokenReply()], client: richClient, parameters: { scope: "other" } })
      assert.strictEqual(
        requests[0].body,
        `grant_type=client_credentials&${scopeAndMore.replace("scope=api.read+api.write", "scope=other")}`
      )
    }))

  for (const name of reservedByTheRfcs) {
    it.effect(`a per-request extra parameter named ${name} is a configuration error, and nothing is sent`, () =>
      Effect.gen(function*() {
        const { requests, result } = yield* run({
          replies: [tokenReply()],
          parameters: { parameters: { [name]: "x" } }
        })
        const error = errorWithTag(result, "ClientConfigurationError")
        assert.strictEqual(error.client, "billing")
        assert.strictEqual(error.field, `parameters.${name}`)
        assert.strictEqual(requests.length, 0)
      }))

    it.effect(`a client-level extra parameter named ${name} is refused when the client is defined`, () =>
      Effect.gen(function*() {
        const error = yield* Effect.flip(
          ClientCredentialsClient.make(clientInput({ parameters: { [name]: "x" } }), "billing")
        )
        assert.strictEqual(error.field, "parameters")
        assert.include(error.message, name)
        assert.include(error.message, `"billing"`)
      }))
  }

  it.effect("a per-request extra parameter named __proto__ is a configuration error, and nothing is sent", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [tokenReply()],
        parameters: { parameters: JSON.parse(`{"__proto__":"x"}`) }
      })
      const error = errorWithTag(result, "ClientConfigurationError")
      assert.strictEqual(error.field, "parameters.__proto__")
      assert.strictEqual(requests.length, 0)
    }))

  it.effect("an invalid per-request scope or resource is a configuration error, and nothing is sent", () =>
    Effect.gen(function*() {
      const badScope = yield* run({ replies: [tokenReply()], parameters: { scope: "a  b" } })
      assert.strictEqual(errorWithTag(badScope.result, "ClientConfigurationError").field, "scope")
      assert.strictEqual(badScope.requests.length, 0)
      const badResource = yield* run({ replies: [tokenReply()], parameters: { resource: ["urn:ok", "https://x/#f"] } })
      assert.strictEqual(errorWithTag(badResource.result, "ClientConfigurationError").field, "resource")
      assert.strictEqual(badResource.requests.length, 0)
    }))
})

describe("transport security", () => {
  const unchecked = (tokenEndpoint: string, allowInsecureTransport: boolean) =>
    ClientCredentialsClient.ClientCredentialsClient.make({
      name: "billing",
      tokenEndpoint,
      clientId: CLIENT_ID,
      clientSecret: Redacted.make(SECRET),
      credentialStyle: "header",
      allowInsecureTransport
    })

  it.effect("plain http off loopback is refused at definition, naming the token endpoint field", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(
        ClientCredentialsClient.make(clientInput({ tokenEndpoint: "http://auth.example.com/token" }), "billing")
      )
      assert.strictEqual(error.field, "tokenEndpoint")
      assertClean("error.message", error.message)
    }))

  it.effect("plain http off loopback is refused at request time too, and nothing is sent", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [tokenReply()],
        client: unchecked("http://auth.example.com/token", false)
      })
      assert.strictEqual(errorWithTag(result, "ClientConfigurationError").field, "tokenEndpoint")
      assert.strictEqual(requests.length, 0)
    }))

  it.effect("plain http off loopback is sent with allowInsecureTransport", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [tokenReply()],
        client: { tokenEndpoint: "http://auth.example.com/token", allowInsecureTransport: true }
      })
      tokenOf(result)
      assert.strictEqual(requests[0].url, "http://auth.example.com/token")
    }))

  for (
    const url of [
      "http://127.0.0.1:8080/token",
      "http://localhost/token",
      "http://[::1]:4000/token",
      "https://auth.example.com/token"
    ]
  ) {
    it.effect(`${url} is accepted`, () =>
      Effect.gen(function*() {
        const { requests, result } = yield* run({ replies: [tokenReply()], client: { tokenEndpoint: url } })
        tokenOf(result)
        assert.strictEqual(requests[0].url, url)
      }))
  }
})

// -----------------------------------------------------------------------------
// What the answers mean
// -----------------------------------------------------------------------------

describe("responses", () => {
  it.effect("200 with a token: value, Bearer normalised from bearer, expiry from expires_in, scope", () =>
    Effect.gen(function*() {
      yield* TestClock.setTime(Date.parse("2024-05-01T12:00:00Z"))
      const { requests, result } = yield* run({
        replies: [json(200, { access_token: TOKEN, token_type: "bearer", expires_in: 3600, scope: "api" })]
      })
      const token = tokenOf(result)
      assert.strictEqual(requests.length, 1)
      assert.strictEqual(Redacted.value(token.value), TOKEN)
      assert.strictEqual(token.type, "Bearer")
      assert.strictEqual(token.authorization, `Bearer ${TOKEN}`)
      assert.strictEqual(token.scope, "api")
      assert.strictEqual(DateTime.formatIso(token.receivedAt), "2024-05-01T12:00:00.000Z")
      assert.strictEqual(DateTime.formatIso(token.expiresAt!), "2024-05-01T13:00:00.000Z")
    }))

  it.effect("200 without expires_in: a token with no expiry", () =>
    Effect.gen(function*() {
      const { result } = yield* run({ replies: [json(200, { access_token: TOKEN, token_type: "Bearer" })] })
      const token = tokenOf(result)
      assert.isUndefined(token.expiresAt)
      assert.strictEqual(Redacted.value(token.value), TOKEN)
    }))

  it.effect("200 with expires_in as a string", () =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const { result } = yield* run({ replies: [tokenReply({ expires_in: "3600" })] })
      assert.isTrue(DateTime.Equivalence(tokenOf(result).expiresAt!, DateTime.add(now, { seconds: 3600 })))
    }))

  it.effect("200 with expires_in 1e308: clamped to maxExpiresIn", () =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const { result } = yield* run({ replies: [json(200, `{"access_token":"${TOKEN}","expires_in":1e308}`)] })
      assert.isTrue(
        DateTime.Equivalence(tokenOf(result).expiresAt!, DateTime.addDuration(now, AccessToken.maxExpiresIn))
      )
    }))

  it.effect("200 with expires_in 0: a token that expires as it arrives", () =>
    Effect.gen(function*() {
      const now = yield* DateTime.now
      const { result } = yield* run({ replies: [tokenReply({ expires_in: 0 })] })
      assert.isTrue(DateTime.Equivalence(tokenOf(result).expiresAt!, now))
    }))

  it.effect("token_type dpop becomes DPoP; an unknown type is kept as sent; a missing one means Bearer", () =>
    Effect.gen(function*() {
      const dpop = yield* run({ replies: [tokenReply({ token_type: "dpop" })] })
      assert.strictEqual(tokenOf(dpop.result).type, "DPoP")
      assert.strictEqual(tokenOf(dpop.result).authorization, `DPoP ${TOKEN}`)
      const other = yield* run({ replies: [tokenReply({ token_type: "N_A" })] })
      assert.strictEqual(tokenOf(other.result).type, "N_A")
      const missing = yield* run({ replies: [json(200, { access_token: TOKEN })] })
      assert.strictEqual(tokenOf(missing.result).type, "Bearer")
    }))

  it.effect("a form-urlencoded body (GitHub style) is decoded", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [{
          status: 200,
          body: `access_token=gho_${MARKER}16C7e42F&scope=repo%2Cgist&token_type=bearer`,
          headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" }
        }]
      })
      const token = tokenOf(result)
      assert.strictEqual(Redacted.value(token.value), `gho_${MARKER}16C7e42F`)
      assert.strictEqual(token.scope, "repo,gist")
      assert.strictEqual(token.type, "Bearer")
      assert.isUndefined(token.expiresAt)
    }))

  it.effect("a JSON body without a JSON content type is still read", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [{
          status: 200,
          body: JSON.stringify({ access_token: TOKEN }),
          headers: { "content-type": "text/plain" }
        }]
      })
      assert.strictEqual(Redacted.value(tokenOf(result).value), TOKEN)
    }))

  it.effect("200 with an error member: TokenRefusedError, not retried", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(200, { error: "invalid_client", error_description: "Unknown client" })]
      })
      const error = errorWithTag(result, "TokenRefusedError")
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.error, "invalid_client")
      assert.strictEqual(error.errorDescription, "Unknown client")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("200 with an HTML page: InvalidTokenResponseError, not retried", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [{
          status: 200,
          body: "<!doctype html><html><body><h1>Sign in</h1></body></html>",
          headers: { "content-type": "text/html; charset=utf-8" }
        }]
      })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.strictEqual(error.status, 200)
      assert.strictEqual(error.contentType, "text/html; charset=utf-8")
      assert.include(error.reason, "HTML")
      assert.include(error.message, "Sign in")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("200 with truncated JSON: InvalidTokenResponseError, and the partial token is not quoted", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [json(200, `{"scope":"api","access_token":"${TOKEN}`)] })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.include(error.reason, "not valid JSON")
      assert.include(error.body, `"scope":"api"`)
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("200 without access_token: InvalidTokenResponseError naming access_token", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [json(200, { token_type: "Bearer", expires_in: 3600 })] })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.include(error.message, "access_token")
      assert.include(error.reason, "access_token is missing")
      assert.strictEqual(requests.length, 1)
    }))

  const invalidBodies: ReadonlyArray<readonly [string, string, string]> = [
    ["expires_in \"abc\"", JSON.stringify({ access_token: TOKEN, expires_in: "abc" }), "expires_in"],
    ["expires_in -1", JSON.stringify({ access_token: TOKEN, expires_in: -1 }), "expires_in"],
    ["an access_token with a space", JSON.stringify({ access_token: `tok ${MARKER}` }), "access_token"],
    ["an access_token with a newline", JSON.stringify({ access_token: `tok\r\nX-${MARKER}: 1` }), "access_token"],
    ["a numeric access_token", JSON.stringify({ access_token: 123 }), "access_token"],
    ["a JSON array", JSON.stringify([{ access_token: TOKEN }]), "not a JSON object"],
    ["JSON null", "null", "not a JSON object"],
    ["an empty body", "", "empty"]
  ]
  for (const [name, body, mentioned] of invalidBodies) {
    it.effect(`200 with ${name}: InvalidTokenResponseError, not retried`, () =>
      Effect.gen(function*() {
        const { requests, result } = yield* run({ replies: [json(200, body)] })
        const error = errorWithTag(result, "InvalidTokenResponseError")
        assert.include(error.reason, mentioned)
        assert.strictEqual(requests.length, 1)
      }))
  }

  it.effect("a form-urlencoded body with a bad member does not quote the token", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [{
          status: 200,
          body: `access_token=${TOKEN}&expires_in=soon`,
          headers: { "content-type": "application/x-www-form-urlencoded" }
        }]
      })
      assert.include(errorWithTag(result, "InvalidTokenResponseError").reason, "expires_in")
    }))

  it.effect("400 invalid_scope: TokenRefusedError after 1 attempt", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(400, { error: "invalid_scope", error_description: "scope 'admin' is not allowed" })]
      })
      const error = errorWithTag(result, "TokenRefusedError")
      assert.strictEqual(error.status, 400)
      assert.strictEqual(error.error, "invalid_scope")
      assert.strictEqual(
        error.message,
        `The token endpoint refused client "billing" with invalid_scope: scope 'admin' is not allowed (HTTP 400)`
      )
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("401 invalid_client: TokenRefusedError after 1 attempt", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(401, { error: "invalid_client" }, { "www-authenticate": "Basic realm=\"token\"" })]
      })
      const error = errorWithTag(result, "TokenRefusedError")
      assert.strictEqual(error.status, 401)
      assert.strictEqual(error.error, "invalid_client")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("503 invalid_client is not retried either", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [json(503, { error: "invalid_client" })] })
      assert.strictEqual(errorWithTag(result, "TokenRefusedError").status, 503)
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("a server that echoes the secret in its error description does not get it into the error", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [json(401, {
          error: "invalid_client",
          error_description: `secret ${SECRET} does not match`,
          error_uri: `https://auth.example.com/help?s=${SECRET}`
        })]
      })
      const error = errorWithTag(result, "TokenRefusedError")
      assert.include(error.errorDescription!, "does not match")
    }))

  it.effect("an error page that echoes the request does not get the credentials into the error", () =>
    Effect.gen(function*() {
      // a short secret: its Basic credentials are too short to look like an opaque token
      const shortSecret = "hunter2"
      const basic = Buffer.from(`svc:${shortSecret}`).toString("base64")
      for (const credentialStyle of ["header", "body"] as const) {
        const { result } = yield* run({
          replies: [{
            status: 500,
            body: `<pre>Authorization: Basic ${basic}\n\ngrant_type=client_credentials&client_id=svc` +
              `&client_secret=${shortSecret}</pre>`,
            headers: { "content-type": "text/html" }
          }],
          client: { clientId: "svc", clientSecret: Redacted.make(shortSecret), credentialStyle },
          options: { retrySchedule: Schedule.recurs(0) }
        })
        const error = errorWithTag(result, "InvalidTokenResponseError")
        for (const rendering of [error.message, String(error), JSON.stringify(error)]) {
          assert.notInclude(rendering, shortSecret)
          assert.notInclude(rendering, basic)
        }
        assert.include(error.body, "Authorization: Basic")
      }
    }))

  it.effect("an error page that echoes a form-encoded secret does not get it into the error", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [{
          status: 500,
          body: `bad request body: ...${SECRET_FORM}...`,
          headers: { "content-type": "text/plain" }
        }],
        options: { retrySchedule: Schedule.recurs(0) }
      })
      errorWithTag(result, "InvalidTokenResponseError")
    }))

  it.effect("404 with an HTML page: InvalidTokenResponseError after 1 attempt", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [{ status: 404, body: "<html>Not Found</html>", headers: { "content-type": "text/html" } }]
      })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.strictEqual(error.status, 404)
      assert.include(error.reason, "HTTP 404 without an OAuth 2.0 error response")
      assert.strictEqual(requests.length, 1)
    }))
})

describe("response size", () => {
  const exactly = (bytes: number) => {
    const base = JSON.stringify({ access_token: TOKEN, pad: "" })
    return JSON.stringify({ access_token: TOKEN, pad: "x".repeat(bytes - base.length) })
  }

  it.effect("a body of exactly maxResponseBytes is read", () =>
    Effect.gen(function*() {
      assert.strictEqual(exactly(200).length, 200)
      const { result } = yield* run({ replies: [json(200, exactly(200))], options: { maxResponseBytes: 200 } })
      assert.strictEqual(Redacted.value(tokenOf(result).value), TOKEN)
    }))

  it.effect("a body one byte over maxResponseBytes is an InvalidTokenResponseError", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(200, exactly(201))],
        options: { maxResponseBytes: 200 }
      })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.include(error.reason, "larger than 200 bytes")
      assert.strictEqual(error.body, "")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("a declared Content-Length over the limit is refused", () =>
    Effect.gen(function*() {
      const { result } = yield* run({
        replies: [{ status: 200, body: exactly(100), headers: { "content-length": "5000000" } }]
      })
      assert.include(errorWithTag(result, "InvalidTokenResponseError").reason, "larger than 1048576 bytes")
    }))

  it.effect("the default limit is 1 MiB", () =>
    Effect.gen(function*() {
      assert.strictEqual(TokenEndpointClient.defaultMaxResponseBytes, 1024 * 1024)
      const { result } = yield* run({ replies: [json(200, exactly(1024 * 1024 + 1))] })
      assert.include(errorWithTag(result, "InvalidTokenResponseError").reason, "larger than 1048576 bytes")
    }))
})

// -----------------------------------------------------------------------------
// Retries, Retry-After, timeouts: all on the TestClock
// -----------------------------------------------------------------------------

describe("retries", () => {
  it.effect("429 with Retry-After: 3 is retried no sooner than 3 s later", () =>
    Effect.gen(function*() {
      const started = yield* start({
        replies: [json(429, "", { "retry-after": "3" }), tokenReply()]
      })
      yield* TestClock.adjust("2999 millis")
      assert.strictEqual(started.requests.length, 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(started.fiber)))
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(started.requests.length, 2)
      const { requests, result } = yield* settle(started, 0)
      assert.strictEqual(Redacted.value(tokenOf(result).value), TOKEN)
      assert.strictEqual(requests.length, 2)
      assert.deepStrictEqual(
        { ...requests[1], headers: ownHeaders(requests[1]) },
        { ...requests[0], headers: ownHeaders(requests[0]) }
      )
    }))

  it.effect("429 with an OAuth 2.0 error and Retry-After is retried after the wait too", () =>
    Effect.gen(function*() {
      const started = yield* start({
        replies: [json(429, { error: "slow_down" }, { "retry-after": "2" }), tokenReply()]
      })
      yield* TestClock.adjust("1999 millis")
      assert.strictEqual(started.requests.length, 1)
      const { requests, result } = yield* settle(started, "1 millis")
      tokenOf(result)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("Retry-After as an HTTP date is honoured", () =>
    Effect.gen(function*() {
      const now = Date.parse("2024-05-01T12:00:00Z")
      yield* TestClock.setTime(now)
      const started = yield* start({
        replies: [
          { status: 503, body: "busy", headers: { "retry-after": new Date(now + 5000).toUTCString() } },
          tokenReply()
        ]
      })
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(started.requests.length, 1)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(started.requests.length, 2)
      tokenOf((yield* settle(started, 0)).result)
    }))

  it.effect("a Retry-After longer than maxRetryAfter is capped", () =>
    Effect.gen(function*() {
      const started = yield* start({
        replies: [json(429, "", { "retry-after": "3600" }), tokenReply()],
        options: { maxRetryAfter: "5 seconds" }
      })
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(started.requests.length, 1)
      const { requests, result } = yield* settle(started, "1 millis")
      tokenOf(result)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("the default maxRetryAfter is 60 s", () =>
    Effect.gen(function*() {
      const started = yield* start({ replies: [json(429, "", { "retry-after": "86400" }), tokenReply()] })
      yield* TestClock.adjust("59999 millis")
      assert.strictEqual(started.requests.length, 1)
      const { requests } = yield* settle(started, "1 millis")
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("the error of a 429 says when to retry", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(429, "", { "retry-after": "3" })],
        options: { retrySchedule: Schedule.recurs(0) }
      })
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.isTrue(Duration.equals(error.retryAfter!, Duration.seconds(3)))
      assert.include(error.message, "retry after 3s")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("503 then 200: a token after 2 attempts", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [{ status: 503, body: "" }, tokenReply()] })
      assert.strictEqual(Redacted.value(tokenOf(result).value), TOKEN)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("500 forever: InvalidTokenResponseError after exactly 4 attempts, with backoff between them", () =>
    Effect.gen(function*() {
      const started = yield* start({
        replies: [{ status: 500, body: "<h1>Internal Server Error</h1>", headers: { "content-type": "text/html" } }]
      })
      // the first retry waits 200 ms, jittered by at most 20 %
      yield* TestClock.adjust("150 millis")
      assert.strictEqual(started.requests.length, 1)
      // 4 attempts with delays of at most 240 + 480 + 960 ms
      const { requests, result } = yield* settle(started, "2 seconds")
      const error = errorWithTag(result, "InvalidTokenResponseError")
      assert.strictEqual(error.status, 500)
      assert.strictEqual(requests.length, 4)
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(requests.length, 4)
    }))

  it.effect("a 502 HTML page from a proxy is retried like any server error", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [{ status: 502, body: "<html>Bad Gateway</html>", headers: { "content-type": "text/html" } }]
      })
      errorWithTag(result, "InvalidTokenResponseError")
      assert.strictEqual(requests.length, 4)
    }))

  it.effect("options.retrySchedule replaces the default", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [{ status: 500 }],
        options: { retrySchedule: Schedule.recurs(1) }
      })
      errorWithTag(result, "InvalidTokenResponseError")
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("a custom schedule's delays are kept", () =>
    Effect.gen(function*() {
      const started = yield* start({
        replies: [{ status: 500 }, tokenReply()],
        options: { retrySchedule: Schedule.spaced("5 seconds") }
      })
      yield* TestClock.adjust("4999 millis")
      assert.strictEqual(started.requests.length, 1)
      const { requests, result } = yield* settle(started, "1 millis")
      tokenOf(result)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("a custom schedule never retries a permanent refusal", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({
        replies: [json(400, { error: "invalid_scope" })],
        options: { retrySchedule: Schedule.recurs(5) }
      })
      errorWithTag(result, "TokenRefusedError")
      assert.strictEqual(requests.length, 1)
    }))

  it.effect("a schedule can be narrowed with whileInput, which sees each failure", () =>
    Effect.gen(function*() {
      const retrySchedule = Schedule.recurs(5).pipe(
        Schedule.whileInput((error: TokenError.TokenEndpointError) => error._tag === "TokenTransportError")
      )
      const serverError = yield* run({ replies: [{ status: 500 }], options: { retrySchedule } })
      assert.strictEqual(serverError.requests.length, 1)
      const connect = yield* run({ replies: [refused], options: { retrySchedule } })
      assert.strictEqual(connect.requests.length, 6)
    }))

  it.effect("clientRetrySchedules sets the schedule of one client, by name", () =>
    Effect.gen(function*() {
      const options: TokenEndpointClient.Options = { clientRetrySchedules: { billing: Schedule.recurs(1) } }
      const billing = yield* run({ replies: [{ status: 500 }], options })
      assert.strictEqual(billing.requests.length, 2)
      const search = yield* run({
        replies: [{ status: 500 }],
        options,
        client: yield* ClientCredentialsClient.make(clientInput(), "search")
      })
      assert.strictEqual(search.requests.length, 4)
    }))

  it.effect("connection refused: TokenTransportError Connect after 4 attempts", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [refused] })
      const error = errorWithTag(result, "TokenTransportError")
      assert.strictEqual(error.reason, "Connect")
      assert.strictEqual(error.client, "billing")
      assert.strictEqual(error.endpoint, ENDPOINT)
      assert.strictEqual(error.description, "ECONNREFUSED")
      assert.strictEqual(
        error.message,
        `Client "billing" could not connect to the token endpoint ${ENDPOINT}: ECONNREFUSED`
      )
      assert.strictEqual(requests.length, 4)
    }))

  it.effect("a reset connection is a TokenTransportError Reset; an unknown failure is Transport", () =>
    Effect.gen(function*() {
      const reset = yield* run({ replies: [{ transport: "ECONNRESET" }] })
      assert.strictEqual(errorWithTag(reset.result, "TokenTransportError").reason, "Reset")
      const unknown = yield* run({ replies: [{ transport: undefined }] })
      assert.strictEqual(errorWithTag(unknown.result, "TokenTransportError").reason, "Transport")
      assert.strictEqual(unknown.requests.length, 4)
    }))

  it.effect("a refused connection then a token: success on the second attempt", () =>
    Effect.gen(function*() {
      const { requests, result } = yield* run({ replies: [refused, tokenReply()] })
      tokenOf(result)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("a server that never answers: TokenTransportError Timeout after requestTimeout, 4 attempts", () =>
    Effect.gen(function*() {
      const started = yield* start({ replies: ["never"], options: { requestTimeout: "1 second" } })
      yield* TestClock.adjust("999 millis")
      assert.strictEqual(started.requests.length, 1)
      assert.isTrue(Option.isNone(yield* Fiber.poll(started.fiber)))
      // the first attempt times out, the retry waits its backoff
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(started.requests.length, 1)
      // 4 attempts of 1 s with at most 240 + 480 + 960 ms between them
      const { requests, result } = yield* settle(started, "6 seconds")
      const error = errorWithTag(result, "TokenTransportError")
      assert.strictEqual(error.reason, "Timeout")
      assert.include(error.message, "got no answer in time")
      assert.include(error.message, "1s")
      assert.strictEqual(requests.length, 4)
    }))

  it.effect("the default request timeout is 30 s", () =>
    Effect.gen(function*() {
      const started = yield* start({ replies: ["never", tokenReply()] })
      yield* TestClock.adjust("29999 millis")
      assert.strictEqual(started.requests.length, 1)
      const { requests, result } = yield* settle(started, "2 seconds")
      tokenOf(result)
      assert.strictEqual(requests.length, 2)
    }))

  it.effect("the default schedule decides no retry more than 10 s after the first failure", () =>
    Effect.gen(function*() {
      // the first retry waits the 20 s asked for; after it, 20 s have passed and the schedule stops
      const { requests, result } = yield* run({ replies: [json(429, "", { "retry-after": "20" })] })
      assert.strictEqual(errorWithTag(result, "InvalidTokenResponseError").status, 429)
      assert.strictEqual(requests.length, 2)
    }))
})

// -----------------------------------------------------------------------------
// Tracing
// -----------------------------------------------------------------------------

describe("tracing", () => {
  const requestSpan = (spans: ReadonlyArray<Tracer.Span>) => {
    const span = spans.find((span) => span.name === "TokenEndpointClient.requestToken")
    if (span === undefined) return assert.fail(`no requestToken span among ${spans.map((s) => s.name).join(", ")}`)
    return span
  }

  it.effect("a span per token request, with the client, the server and the outcome", () =>
    Effect.gen(function*() {
      const { spans } = yield* run({ replies: [tokenReply()] })
      const span = requestSpan(spans)
      assert.strictEqual(span.kind, "client")
      assert.strictEqual(span.attributes.get("oauth.client.name"), "billing")
      assert.strictEqual(span.attributes.get("server.address"), "auth.example.com")
      assert.strictEqual(span.attributes.get("url.path"), "/connect/token")
      assert.strictEqual(span.attributes.get("outcome"), "success")
      assert.strictEqual(span.status._tag, "Ended")
      // no `http.client` span of the platform: it would keep the request, credentials included
      assert.deepStrictEqual(spans.map((s) => s.name), [span.name])
    }))

  it.effect("the outcome of a failed request is the error's tag", () =>
    Effect.gen(function*() {
      const refusedRequest = yield* run({ replies: [json(401, { error: "invalid_client" })] })
      assert.strictEqual(requestSpan(refusedRequest.spans).attributes.get("outcome"), "TokenRefusedError")
      const unreachable = yield* run({ replies: [refused] })
      assert.strictEqual(requestSpan(unreachable.spans).attributes.get("outcome"), "TokenTransportError")
      // one span for the whole request, retries included
      assert.strictEqual(unreachable.spans.filter((s) => s.name === "TokenEndpointClient.requestToken").length, 1)
    }))

  it.effect("no attribute of any span carries the secret or the token, whatever the credential style", () =>
    Effect.gen(function*() {
      for (const credentialStyle of ["header", "body"] as const) {
        const { spans } = yield* run({ replies: [tokenReply()], client: { ...richClient, credentialStyle } })
        assert.isAtLeast(spans.length, 1)
        for (const span of spans) {
          for (const [key, value] of span.attributes) {
            assertClean(`${span.name} ${key}`, String(value))
            assertClean(`${span.name} ${key}`, JSON.stringify(value) ?? "")
          }
        }
      }
    }))
})

describe("the token's lifetime", () => {
  it.effect("counts from when the request was sent, not from when a slow answer arrived", () =>
    Effect.gen(function*() {
      const slow = HttpClient.make((request) =>
        Effect.as(
          Effect.sleep("5 seconds"),
          HttpClientResponse.fromWeb(
            request,
            new Response(JSON.stringify({ access_token: "slow-token", token_type: "Bearer", expires_in: 3600 }), {
              status: 200,
              headers: { "content-type": "application/json" }
            })
          )
        )
      )
      const endpoint = yield* TokenEndpointClient.make().pipe(Effect.provideService(HttpClient.HttpClient, slow))
      const client = yield* ClientCredentialsClient.make(
        { tokenEndpoint: "https://auth.example.com/token", clientId: "slow", authentication: "none" },
        "slow"
      )
      const fiber = yield* Effect.fork(endpoint.requestToken(client))
      yield* TestClock.adjust("5 seconds")
      const token = yield* Fiber.join(fiber)
      assert.strictEqual(DateTime.toEpochMillis(token.receivedAt), 0)
      assert.strictEqual(DateTime.toEpochMillis(token.expiresAt!), 3_600_000)
    }))
})
