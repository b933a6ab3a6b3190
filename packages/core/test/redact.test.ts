/**
 * What a token endpoint says reaches the reader readable, and never with a credential in it.
 *
 * The rule for the client secret: an occurrence that stands as a whole value (not inside a longer
 * word of letters, digits, `_` or `-`) is masked however short the secret is, and a secret of 12
 * characters or more is masked wherever it appears. A short secret inside a word is there by
 * chance (`s` in `client_secret_basic`): masking it would garble the text and spell the secret out.
 */
import { TokenCache, TokenEndpointClient, type TokenError, TokenService } from "@access-token/core"
import { HttpClient, type HttpClientRequest, HttpClientResponse } from "@effect/platform"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, FastCheck, Layer, Redacted, Schedule } from "effect"
import { basicAuthorization, formUrlEncode, parseBasicAuthorization } from "../src/internal/form.js"
import { redactText } from "../src/internal/redact.js"

const fc = FastCheck

// -----------------------------------------------------------------------------
// The vocabulary that must survive
// -----------------------------------------------------------------------------

/** OAuth parameter names (IANA "OAuth Parameters" registry) and client / server metadata names. */
const parameterNames = [
  "client_id",
  "client_secret",
  "response_type",
  "redirect_uri",
  "scope",
  "state",
  "code",
  "error",
  "error_description",
  "error_uri",
  "grant_type",
  "access_token",
  "token_type",
  "expires_in",
  "refresh_token",
  "id_token",
  "id_token_hint",
  "assertion",
  "client_assertion",
  "client_assertion_type",
  "code_verifier",
  "code_challenge_method",
  "device_code",
  "resource",
  "audience",
  "requested_token_type",
  "subject_token_type",
  "actor_token_type",
  "issued_token_type",
  "authorization_details",
  "dpop_jkt",
  "token_endpoint_auth_method",
  "token_endpoint_auth_signing_alg",
  "id_token_signed_response_alg",
  "token_endpoint_auth_methods_supported",
  "token_endpoint_auth_signing_alg_values_supported",
  "dpop_signing_alg_values_supported",
  "tls_client_certificate_bound_access_tokens",
  "dpop_bound_access_tokens",
  "mtls_endpoint_aliases",
  "introspection_endpoint",
  "revocation_endpoint",
  "jwks_uri",
  "client_secret_basic",
  "client_secret_post",
  "client_secret_jwt",
  "private_key_jwt",
  "tls_client_auth",
  "self_signed_tls_client_auth",
  "client_credentials",
  "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
  "urn:ietf:params:oauth:grant-type:jwt-bearer",
  "urn:ietf:params:oauth:token-type:access_token"
]

/** OAuth error codes (IANA "OAuth Extensions Error" registry). */
const errorNames = [
  "invalid_request",
  "invalid_client",
  "invalid_grant",
  "unauthorized_client",
  "unsupported_grant_type",
  "invalid_scope",
  "access_denied",
  "server_error",
  "temporarily_unavailable",
  "invalid_token",
  "insufficient_scope",
  "unsupported_token_type",
  "invalid_request_uri",
  "invalid_request_object",
  "authorization_pending",
  "slow_down",
  "expired_token",
  "invalid_target",
  "invalid_authorization_details",
  "invalid_dpop_proof",
  "use_dpop_nonce",
  "invalid_redirect_uri",
  "invalid_client_metadata",
  "invalid_software_statement",
  "unapproved_software_statement"
]

const registeredNames = [...parameterNames, ...errorNames]

// -----------------------------------------------------------------------------
// The rule, written out as the reader would check it
// -----------------------------------------------------------------------------

const wordCharacter = /[\p{L}\p{N}_-]/u
const isWord = (c: string | undefined) => c !== undefined && wordCharacter.test(c)

/** Whether `secret` can still be read in `text`: anywhere when long, as a whole value when short. */
const survives = (text: string, secret: string): boolean => {
  if (secret.length >= 12) return text.includes(secret)
  for (let at = text.indexOf(secret); at >= 0; at = text.indexOf(secret, at + 1)) {
    const openBefore = !isWord(secret[0]) || !isWord(text[at - 1])
    const openAfter = !isWord(secret[secret.length - 1]) || !isWord(text[at + secret.length])
    if (openBefore && openAfter) return true
  }
  return false
}

// -----------------------------------------------------------------------------
// redactText
// -----------------------------------------------------------------------------

describe("redactText", () => {
  it("keeps identifiers that name the misconfiguration", () => {
    for (
      const text of [
        "id_token_signed_response_alg must be 'ES256'",
        "token_endpoint_auth_method mismatch",
        "token_endpoint_auth_signing_alg_values_supported does not include HS256",
        "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "tls-client-certificate-bound-access-tokens-required",
        "see https://docs.example.com/errors/invalid_client_configuration_reference",
        "ACCESS_TOKEN_CACHE_ENCRYPTION_KEY is not set",
        "issuer identityserver.internal.example does not match"
      ]
    ) {
      assert.strictEqual(redactText(text, [], 1000), text)
    }
  })

  it("masks a secret where it stands as a whole value, not inside other words", () => {
    assert.strictEqual(
      redactText("client_secret_basic is not allowed; got secret", ["secret"], 1000),
      "client_secret_basic is not allowed; got [redacted]"
    )
    assert.strictEqual(
      redactText("client_secret_basic is not allowed for s, 's', \"s\", worker:s, s.", ["s"], 1000),
      "client_secret_basic is not allowed for [redacted], '[redacted]', \"[redacted]\", worker:[redacted], [redacted]."
    )
  })

  it("masks a secret however it was encoded, and after a percent-escape", () => {
    const secret = "a b/c\"d"
    const out = redactText(
      `form a+b%2Fc%22d, uri a%20b%2Fc%22d, json {"x":"a b/c\\"d"}, query secret%3Da+b%2Fc%22d`,
      [secret],
      1000
    )
    assert.strictEqual(
      out,
      `form [redacted], uri [redacted], json {"x":"[redacted]"}, query secret%3D[redacted]`
    )
  })

  it("masks a long secret even when glued to other text", () => {
    const secret = "0123456789abcdef"
    assert.strictEqual(redactText(`xx${secret}yy`, [secret], 1000), "xx[redacted]yy")
  })

  it("masks a secret of 12 characters inside a word, and keeps one of 11 there", () => {
    const twelve = "0123456789ab"
    assert.strictEqual(redactText(`xx${twelve}yy`, [twelve], 1000), "xx[redacted]yy")
    const eleven = "0123456789a"
    assert.strictEqual(redactText(`xx${eleven}yy`, [eleven], 1000), `xx${eleven}yy`)
    assert.strictEqual(redactText(`xx ${eleven} yy`, [eleven], 1000), "xx [redacted] yy")
  })

  it("masks overlapping forms of the secret whole", () => {
    assert.strictEqual(redactText("got %25 and %", ["%"], 1000), "got [redacted] and [redacted]")
    assert.strictEqual(redactText("aa aaa", ["aa"], 1000), "[redacted] aaa")
  })

  it("still masks JWTs, long random runs and credential members", () => {
    const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ3b3JrZXIiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXZhbHVl"
    assert.strictEqual(redactText(`token ${jwt} rejected`, [], 1000), "token [redacted] rejected")
    for (
      const run of [
        "8xLOxBtZp8QmVm0CbVQ2aJmxN7dlXnW4",
        "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
        "qwhdkzmxplrtnvbcxzsdfhgjklqwertz",
        "123e4567-e89b-12d3-a456-426614174000",
        "dGhpcyBpcyBhIGxvbmcgYmFzZTY0IHN0cmluZw=="
      ]
    ) {
      assert.strictEqual(redactText(`handle ${run} end`, [], 1000), "handle [redacted] end", run)
    }
    assert.strictEqual(
      redactText(`{"access_token":"short","token_type":"Bearer"} access_token=abc&scope=api`, [], 1000),
      `{"access_token":"[redacted]","token_type":"Bearer"} access_token=[redacted]&scope=api`
    )
  })

  it("masks a long body as if all of it were masked, however much the masks shrink it", () => {
    const fragment = fc.oneof(
      fc.constantFrom(...registeredNames, "the", "secret", "s", " ", ", ", "\"", "=", "%3D", "access_token="),
      fc.stringMatching(/^[A-Za-z0-9_-]{20,3000}$/),
      fc.constant("s3cr3t-value"),
      fc.constant("s")
    )
    fc.assert(
      fc.property(
        fc.array(fragment, { minLength: 1, maxLength: 60 }),
        fc.constantFrom("s3cr3t-value", "s"),
        (parts, secret) => {
          const text = parts.join(" ")
          const whole = redactText(text, [secret], 1_000_000_000)
          const expected = whole.length > 300 ? `${whole.slice(0, 300)}…` : whole
          assert.strictEqual(redactText(text, [secret], 300), expected)
        }
      ),
      { numRuns: 300 }
    )
    // A run that shrinks to `[redacted]` brings what follows it into view: it is masked too.
    const secret = "s3cr3t-value"
    assert.strictEqual(
      redactText(`${"A1b2".repeat(3000)} then ${secret} and ${"Z9y8".repeat(3000)}`, [secret], 300),
      "[redacted] then [redacted] and [redacted]"
    )
  })

  it("keeps every registered OAuth parameter and error name, whatever the secret", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...registeredNames), { minLength: 1, maxLength: 8 }),
        fc.constantFrom(" ", ", ", ": ", "; ", " '", "' ", " (", ") ", "\n"),
        fc.oneof(fc.string({ minLength: 1, maxLength: 3 }), fc.string({ minLength: 1, maxLength: 30 })),
        (names, separator, secret) => {
          const text = names.join(separator)
          // The masked text reads `<text> ([redacted])`: a secret that the names, the mask or the
          // brackets around it spell (`[`, `redacted`, `])`) is in every masked text.
          FastCheck.pre(!survives(`${text} ([redacted])`, secret))
          const out = redactText(`${text} (${secret})`, [secret], 10_000)
          for (const name of names) assert.include(out, name)
          assert.isFalse(survives(out, secret), out)
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("never lets a random run of 24 token characters or more through", () => {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".split("")
    const randomRun = fc.array(fc.integer({ min: 0, max: alphabet.length - 1 }), { minLength: 24, maxLength: 64 })
      .map((indexes) => indexes.map((index) => alphabet[index]).join(""))
    fc.assert(
      fc.property(randomRun, (run) => {
        assert.notInclude(redactText(`x ${run} y`, [], 1000), run)
      }),
      { numRuns: 2000 }
    )
  })
})

// -----------------------------------------------------------------------------
// End to end: a token endpoint that echoes the client's credentials back
// -----------------------------------------------------------------------------

const CLIENT_ID = "worker"

const textDecoder = new TextDecoder()

const requestBody = (request: HttpClientRequest.HttpClientRequest): string =>
  request.body._tag === "Uint8Array" ? textDecoder.decode(request.body.body) : ""

/** The secret as the echoing server received it: from the Basic header or the form body. */
const receivedSecret = (request: HttpClientRequest.HttpClientRequest): string => {
  const header = request.headers.authorization
  if (header !== undefined) return parseBasicAuthorization(header)?.clientSecret ?? ""
  return new URLSearchParams(requestBody(request)).get("client_secret") ?? ""
}

type EchoStyle = (words: string, secret: string, request: HttpClientRequest.HttpClientRequest) => {
  readonly status: number
  readonly contentType: string
  readonly body: string
}

const oauthError = (status: number, members: Record<string, string>) => ({
  status,
  contentType: "application/json",
  body: JSON.stringify(members)
})

const echoStyles: Record<string, EchoStyle> = {
  description: (words, secret) => oauthError(401, { error: "invalid_client", error_description: `${words} ${secret}` }),
  quoted: (words, secret) =>
    oauthError(401, { error: "invalid_client", error_description: `${words}: '${secret}' ("${secret}")` }),
  pair: (words, secret) =>
    oauthError(400, {
      error: "invalid_request",
      error_description: `${words}; client_secret=${formUrlEncode(secret)}`
    }),
  credentials: (words, secret) =>
    oauthError(401, { error: "invalid_client", error_description: `${words}: ${CLIENT_ID}:${secret}` }),
  basic: (words, secret) =>
    oauthError(401, {
      error: "invalid_client",
      error_description: `${words}; Authorization: ${basicAuthorization(CLIENT_ID, secret)}`
    }),
  uri: (words, secret) =>
    oauthError(400, {
      error: "invalid_client",
      error_description: words,
      error_uri: `https://errors.example/${encodeURIComponent(secret)}?secret=${formUrlEncode(secret)}`
    }),
  code: (words, secret) => oauthError(400, { error: secret, error_description: words }),
  html: (words, _secret, request) => ({
    status: 500,
    contentType: "text/html",
    body: `<p>${words}</p><pre>${request.headers.authorization ?? ""} ${requestBody(request)}</pre>`
  }),
  json: (words, secret) => ({
    status: 502,
    contentType: "application/json",
    body: JSON.stringify({ message: words, received: secret })
  }),
  text: (words, secret) => ({ status: 503, contentType: "text/plain", body: `${words} ${secret}` })
}

/** Everything of the failure a person may read. */
const readable = (error: TokenError.TokenError): ReadonlyArray<string> => {
  const fields = error as unknown as Record<string, unknown>
  return [
    error.message,
    ...["error", "errorDescription", "errorUri", "body"].flatMap((name) =>
      typeof fields[name] === "string" ? [fields[name]] : []
    )
  ]
}

/** The failure of one token request to an endpoint echoing `secret` in `style`. */
const failureOf = (
  style: EchoStyle,
  words: string,
  secret: string,
  credentialStyle: "header" | "body"
): Promise<TokenError.TokenError> => {
  const transport = HttpClient.make((request) =>
    Effect.sync(() => {
      const reply = style(words, receivedSecret(request), request)
      return HttpClientResponse.fromWeb(
        request,
        new Response(reply.body, { status: reply.status, headers: { "content-type": reply.contentType } })
      )
    })
  )
  const program = TokenService.getToken("worker").pipe(
    Effect.provide(
      TokenService.layer({
        clients: {
          worker: {
            tokenEndpoint: "https://auth.example.com/connect/token",
            clientId: CLIENT_ID,
            clientSecret: Redacted.make(secret),
            credentialStyle
          }
        }
      }).pipe(
        Layer.provide(TokenEndpointClient.layer({ retrySchedule: Schedule.stop })),
        Layer.provide(TokenCache.layerMemory()),
        Layer.provide(Layer.succeed(HttpClient.HttpClient, transport))
      )
    )
  )
  return Effect.runPromiseExit(program).then((exit) => {
    if (Exit.isSuccess(exit) || !Cause.isFailType(exit.cause)) {
      throw new Error(`expected a typed failure, got ${Exit.isSuccess(exit) ? "a token" : Cause.pretty(exit.cause)}`)
    }
    return exit.cause.error
  })
}

describe("messages from a token endpoint that echoes the credentials", () => {
  const secret = fc.oneof(
    fc.string({ minLength: 1, maxLength: 3 }),
    fc.string({ minLength: 1, maxLength: 30 }),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 6 }),
    fc.constantFrom("s", "secret", "-", "_", "a b", "%", "\"", "\\", "é", "p@ss:w+rd%/ x~", "client", "invalid")
  )
  const words = fc.array(fc.constantFrom(...registeredNames), { minLength: 1, maxLength: 4 }).map((names) =>
    names.join(" ")
  )

  it.effect("never carry the secret, and keep the names the server used", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...Object.keys(echoStyles)),
          words,
          secret,
          fc.constantFrom("header" as const, "body" as const),
          async (styleName, words, secret, credentialStyle) => {
            const style = echoStyles[styleName]
            // What the reader would see had the server echoed another secret: the secret cannot be
            // said to survive where it is part of that (a secret `HTTP` in "(HTTP 401)").
            const baseline = await failureOf(style, words, "placeholder-Q7", credentialStyle)
            FastCheck.pre(!readable(baseline).some((text) => survives(text, secret)))
            const error = await failureOf(style, words, secret, credentialStyle)
            for (const text of readable(error)) {
              assert.isFalse(survives(text, secret), `${styleName}: ${text}`)
              assert.isFalse(survives(text, formUrlEncode(secret)), `${styleName}: ${text}`)
            }
            for (const name of words.split(" ")) assert.include(error.message, name, styleName)
          }
        ),
        { numRuns: 300 }
      )
    ), 60_000)
})
