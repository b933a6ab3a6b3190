/**
 * The JWT bearer grant (RFC 7523 §2.1): instead of the client credentials grant, the worker signs an
 * assertion about itself and trades it for an access token, as Google Cloud service accounts and
 * Salesforce's server-to-server flow do. A fresh assertion is signed for every attempt.
 *
 * @since 0.2.0
 */
// @ts-nocheck

import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import * as ClientAuthentication from "./ClientAuthentication.js"
import { loadSigningKey } from "./internal/clientAssertion.js"
import { keyTypeOf } from "./internal/privateKey.js"
import { ClientConfigurationError } from "./TokenError.js"

/**
 * The `grant_type` of the JWT bearer grant.
 *
 * @since 0.2.0
 * @category constants
 */
export const grantType = "urn:ietf:params:oauth:grant-type:jwt-bearer"

/**
 * Where the requested scope goes: the form's `scope` parameter (RFC 7521 §4.1), or a `scope`
 * claim of the assertion (Google).
 *
 * @since 0.2.0
 * @category models
 */
export type ScopePlacement = "parameter" | "claim"

/**
 * The grant as a user writes it, with a key of its own.
 *
 * @since 0.2.0
 * @category models
 */
export interface KeyInput extends ClientAuthentication.SigningKeyInput, ClientAuthentication.AssertionOptions {
  /** The assertion's `sub`; the client id by default. */
  readonly subject?: string | undefined
  /** Default `"parameter"`. */
  readonly scopeIn?: ScopePlacement | undefined
}

/**
 * The grant from a Google service-account key file, as it is (JSON text with `client_email`,
 * `private_key`, `private_key_id`, `token_uri`). The client id and the token endpoint default to
 * the file's `client_email` and `token_uri`; the assertion's `aud` is `token_uri` and the scope
 * goes in a `scope` claim, as Google requires.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServiceAccountInput extends Pick<ClientAuthentication.AssertionOptions, "lifetime" | "clockSkew"> {
  readonly serviceAccountKey: Redacted.Redacted<string>
  /** The user to act as (Google domain-wide delegation); none by default. */
  readonly subject?: string | undefined
}

/**
 * A JWT bearer grant as a user writes it: a key of its own, or a service-account key file.
 *
 * @since 0.2.0
 * @category models
 */
export type Input = KeyInput | ServiceAccountInput

/**
 * The grant, ready to use: its key imported and checked.
 *
 * @since 0.2.0
 * @category models
 */
export class JwtBearerGrant extends Data.TaggedClass("JwtBearerGrant")<{
  readonly signingKey: ClientAuthentication.SigningKey
  readonly assertion: ClientAuthentication.AssertionSettings
  /** `undefined` leaves `sub` out of the assertion (a Google service account acting as itself). */
  readonly subject: string | undefined
  readonly scopeIn: ScopePlacement
}> {}

/**
 * Whether a value is a checked JWT bearer grant, as `make` returns.
 *
 * @since 0.2.0
 * @category refinements
 */
export const isJwtBearerGrant = (u: unknown): u is JwtBearerGrant => u instanceof JwtBearerGrant

/**
 * The schema of a loaded grant, for the field of a client definition.
 *
 * @since 0.2.0
 * @category schemas
 */
export const JwtBearerGrantFromSelf: Schema.Schema<JwtBearerGrant> = Schema.declare(isJwtBearerGrant, {
  identifier: "JwtBearerGrant",
  message: () => "must be made by JwtBearerGrant.make"
})

/**
 * What a service-account key file provides.
 *
 * @since 0.2.0
 * @category models
 */
export interface ServiceAccountKey {
  readonly clientEmail: string
  readonly privateKey: Redacted.Redacted<string>
  readonly privateKeyId: string | undefined
  readonly tokenUri: string
}

/** What the other Google credential files are, to say so when one is given instead of a key file. */
const otherKeyFiles: Record<string, string> = {
  authorized_user: " (a user's credentials, from gcloud auth application-default login)",
  external_account: " (workload identity federation, which exchanges tokens rather than signing)",
  impersonated_service_account: " (service account impersonation, which a user's credentials sign for)"
}

const nonEmpty = (record: Record<string, unknown>, name: string): string | undefined => {
  const value = record[name]
  return typeof value === "string" && value.length > 0 ? value : undefined
}

/**
 * Reads a service-account key file. Its other members (`project_id`, `client_id`, ...) are ignored;
 * no error quotes the file.
 *
 * @example
 * ```ts
 * import { JwtBearerGrant } from "@access-token/core"
 * import { Effect, Either, Redacted } from "effect"
 *
 * const notAKeyFile = Effect.runSync(Effect.either(JwtBearerGrant.parseServiceAccountKey("google", Redacted.make("{}"))))
 * assert.ok(Either.isLeft(notAKeyFile))
 * // The error names the field and what is missing, never the file's content.
 * assert.strictEqual(notAKeyFile.left.message, 'Client "google" is misconfigured: grant.serviceAccountKey has no client_email, private_key, token_uri: is it a service-account key file?')
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const parseServiceAccountKey = (
  client: string,
  key: Redacted.Redacted<string>
): Effect.Effect<ServiceAccountKey, ClientConfigurationError> => {
  const fail = (reason: string) =>
    Effect.fail(new ClientConfigurationError({ client, field: "grant.serviceAccountKey", reason }))
  let json: unknown
  try {
    json = JSON.parse(Redacted.value(key))
  } catch {
    return fail("is not JSON: give the content of the service-account key file")
  }
  if (!Predicate.isRecord(json)) return fail("is not a JSON object")
  // Absent in hand-made files, which Google's own libraries read as service accounts too.
  if (json.type !== undefined && json.type !== "service_account") {
    const type = typeof json.type === "string" && /^[a-z_]{1,40}$/.test(json.type) ? json.type : undefined
    return fail(
      type === undefined
        ? "has a type other than service_account: give a service-account key file"
        : `has type ${type}${otherKeyFiles[type] ?? ""}, not service_account: give a service-account key file`
    )
  }
  const missing = ["client_email", "private_key", "token_uri"].filter((name) => nonEmpty(json, name) === undefined)
  if (missing.length > 0) return fail(`has no ${missing.join(", ")}: is it a service-account key file?`)
  return Effect.succeed({
    clientEmail: nonEmpty(json, "client_email")!,
    privateKey: Redacted.make(nonEmpty(json, "private_key")!),
    privateKeyId: nonEmpty(json, "private_key_id"),
    tokenUri: nonEmpty(json, "token_uri")!
  })
}

const isServiceAccountInput = (input: Input): input is ServiceAccountInput => "serviceAccountKey" in input

/**
 * Loads the grant for the client named `client` with `clientId` (the assertion's `sub` unless
 * `subject` says otherwise): imports and checks its key (a service account's from its key file)
 * and validates its settings. The result also says which client id and token endpoint a service
 * account implies.
 *
 * @example
 * ```ts
 * import { TokenService } from "@access-token/core"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { Config, Effect, Layer } from "effect"
 *
 * // A Google service account: the key file gives the client id (client_email) and the token
 * // endpoint (token_uri); TokenService.layer makes the grant and checks the key when it starts.
 * const Tokens = Layer.unwrapEffect(
 *   Effect.map(Config.redacted("GOOGLE_SERVICE_ACCOUNT_KEY"), (serviceAccountKey) =>
 *     TokenService.layerDefault({
 *       clients: {
 *         google: { grant: { serviceAccountKey }, scope: "https://www.googleapis.com/auth/cloud-platform" }
 *       }
 *     }))
 * ).pipe(Layer.provide(NodeHttpClient.layerUndici))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  input: Input | JwtBearerGrant,
  client: string,
  clientId: string | undefined
): Effect.Effect<
  {
    readonly grant: JwtBearerGrant
    readonly clientId?: string | undefined
    readonly tokenEndpoint?: string | undefined
  },
  ClientConfigurationError
> => {
  if (isJwtBearerGrant(input)) return Effect.succeed({ grant: input })
  if (!Predicate.isRecord(input)) {
    return Effect.fail(new ClientConfigurationError({ client, field: "grant", reason: "must be a JWT bearer grant" }))
  }
  if (isServiceAccountInput(input)) {
    return Effect.gen(function*() {
      const key = yield* parseServiceAccountKey(client, input.serviceAccountKey)
      const signingKey = yield* loadSigningKey(client, "grant.serviceAccountKey", {
        privateKey: key.privateKey,
        keyId: key.privateKeyId
      })
      if (signingKey.algorithm !== "RS256") {
        return yield* Effect.fail(
          new ClientConfigurationError({
            client,
            field: "grant.serviceAccountKey",
            reason:
              `holds ${keyTypeOf(signingKey.algorithm) ?? "a key"}, but Google signs service-account assertions ` +
              "with RS256 only: give the key file as Google issued it"
          })
        )
      }
      const assertion = yield* ClientAuthentication.assertionSettings(client, "grant", {
        ...input,
        audience: "tokenEndpoint"
      })
      return {
        grant: new JwtBearerGrant({ signingKey, assertion, subject: input.subject, scopeIn: "claim" }),
        clientId: key.clientEmail,
        tokenEndpoint: key.tokenUri
      }
    })
  }
  const scopeIn = input.scopeIn ?? "parameter"
  if (scopeIn !== "parameter" && scopeIn !== "claim") {
    return Effect.fail(
      new ClientConfigurationError({ client, field: "grant.scopeIn", reason: "must be parameter or claim" })
    )
  }
  return Effect.zipWith(
    loadSigningKey(client, "grant", input),
    ClientAuthentication.assertionSettings(client, "grant", input),
    (signingKey, assertion) => ({
      grant: new JwtBearerGrant({ signingKey, assertion, subject: input.subject ?? clientId, scopeIn })
    })
  )
}
