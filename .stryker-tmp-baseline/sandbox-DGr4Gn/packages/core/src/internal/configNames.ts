// @ts-nocheck
import * as ConfigError from "effect/ConfigError"
import * as ParseResult from "effect/ParseResult"
import { ClientConfigurationError } from "../TokenError.js"

/**
 * Errors about a client read by `ClientCredentialsClient.config` name what the user set: the
 * environment variable (`API_TOKEN_ENDPOINT`), not the field of the definition (`tokenEndpoint`).
 * Names are those of the default `ConfigProvider` (`fromEnv`: path segments joined by `_`), which
 * is how `config(prefix)` documents its settings; another provider finds the same path, spelled in
 * its own way (`API.TOKEN_ENDPOINT` in JSON).
 */

/** Where a definition was read from, carried by the input `config` returns (under a symbol, out of sight). */
export interface Source {
  readonly prefix: string | undefined
  /** The fields whose variable is set but empty (`API_TOKEN_ENDPOINT=`). */
  readonly empty: ReadonlyArray<string>
}

const sourceKey: unique symbol = Symbol.for("@access-token/core/ClientCredentialsClient/source")

/**
 * Not enumerable, so that the input reads, prints and compares as the fields it has; it stays with
 * the object as `config` returns it, which is how it reaches `make` (registered, or resolved).
 */
export const withSource = <A extends object>(input: A, source: Source): A =>
  Object.defineProperty(input, sourceKey, { value: source, enumerable: false })

export const sourceOf = (input: unknown): Source | undefined =>
  typeof input === "object" && input !== null && sourceKey in input
    ? (input as { [sourceKey]: Source })[sourceKey]
    : undefined

/** The variable each field of a definition is read from, under the prefix. */
const keys: Readonly<Record<string, string>> = {
  tokenEndpoint: "TOKEN_ENDPOINT",
  issuer: "ISSUER",
  clientId: "CLIENT_ID",
  clientSecret: "CLIENT_SECRET",
  credentialStyle: "CREDENTIAL_STYLE",
  scope: "SCOPE",
  resource: "RESOURCE",
  allowInsecureTransport: "ALLOW_INSECURE_TRANSPORT",
  expirationBuffer: "EXPIRATION_BUFFER",
  defaultLifetime: "DEFAULT_LIFETIME",
  "dpop.key": "DPOP_KEY",
  "dpop.algorithm": "DPOP_ALGORITHM",
  authentication: "TOKEN_ENDPOINT_AUTH_METHOD",
  "authentication.method": "TOKEN_ENDPOINT_AUTH_METHOD",
  privateKey: "PRIVATE_KEY",
  keyId: "PRIVATE_KEY_ID",
  algorithm: "SIGNING_ALGORITHM",
  certificate: "CERTIFICATE",
  x5t: "CERTIFICATE_X5T",
  audience: "ASSERTION_AUDIENCE",
  lifetime: "ASSERTION_LIFETIME",
  "grant.serviceAccountKey": "SERVICE_ACCOUNT_KEY",
  grant: "GRANT_TYPE"
}

/** The environment variable of `key` (`CLIENT_SECRET`) under `prefix`. */
export const variable = (prefix: string | undefined, key: string): string =>
  prefix === undefined ? key : `${prefix}_${key}`

/** The variable a field (`tokenEndpoint`, `resource.1`, `authentication.privateKey`) was read from, if any. */
export const variableOf = (source: Source, field: string): string | undefined => {
  const path = field.replace(/\.\d+$/, "")
  const key = keys[path] ?? keys[path.replace(/^(?:authentication|grant)\./, "")]
  return key === undefined ? undefined : variable(source.prefix, key)
}

/** `code` in a message about a definition written in code, the variable of `key` for one read from configuration. */
export const say = (source: Source | undefined, key: string, code: string, before = ""): string =>
  source === undefined ? code : `${before}${variable(source.prefix, key)}`

/**
 * The first field at fault in a definition, and what is wrong with it as the rest of a sentence
 * that starts with the field's name: "is required", "is empty", "must be ...".
 */
export const firstIssue = (
  error: ParseResult.ParseError,
  input: unknown
): { readonly field: string; readonly reason: string } => {
  const [issue] = ParseResult.ArrayFormatter.formatErrorSync(error)
  if (issue === undefined) return { field: "(definition)", reason: "is invalid" }
  const field = issue.path.length === 0 ? "(definition)" : issue.path.map(String).join(".")
  const value = issue.path.reduce<unknown>(
    (value, key) =>
      typeof value === "object" && value !== null ? (value as Record<PropertyKey, unknown>)[key] : undefined,
    input
  )
  const reason = issue._tag === "Missing" || value === undefined
    ? "is required"
    : value === ""
    ? "is empty"
    // Our own filters say "must be ..."; Effect's messages ("Expected ...") are quoted as they are.
    : /^[a-z]/.test(issue.message)
    ? issue.message
    : `is invalid: ${issue.message}`
  return { field, reason }
}

/**
 * The phrases of messages written for a definition in code that name other fields, or the keywords
 * of code, and their words in the environment's (where the audience keyword is `token_endpoint`).
 */
const phrases = (prefix: string | undefined): ReadonlyArray<readonly [string, string]> => [
  ["set allowInsecureTransport", `set ${variable(prefix, "ALLOW_INSECURE_TRANSPORT")}=true`],
  ["needs certificate:", `needs ${variable(prefix, "CERTIFICATE")}:`],
  [
    "must not be empty: give issuer, tokenEndpoint or the audience itself",
    "is empty: set it to issuer, token_endpoint or the audience itself"
  ]
]

/** `error` in the words of the configuration `input` was read from, if it was. */
export const inWordsOf = (input: unknown) => (error: ClientConfigurationError): ClientConfigurationError => {
  const source = sourceOf(input)
  const name = source === undefined || error.variable !== undefined ? undefined : variableOf(source, error.field)
  if (source === undefined || name === undefined) return error
  const reason = phrases(source.prefix).reduce(
    (reason, [inCode, inEnvironment]) => reason.replace(inCode, inEnvironment),
    error.reason
  )
  return new ClientConfigurationError({ client: error.client, field: error.field, reason, variable: name })
}

/**
 * A `ConfigError` whose paths read as the variables of the default `ConfigProvider`
 * (`API_CLIENT_ID`), where `ConfigError` joins them with dots (`API.CLIENT_ID`), a name no variable has.
 */
export const withVariableNames = (error: ConfigError.ConfigError): ConfigError.ConfigError => {
  const options = { pathDelim: "_" }
  switch (error._op) {
    case "And":
      return ConfigError.And(withVariableNames(error.left), withVariableNames(error.right))
    case "Or":
      return ConfigError.Or(withVariableNames(error.left), withVariableNames(error.right))
    case "InvalidData":
      return ConfigError.InvalidData([...error.path], error.message, options)
    case "MissingData":
      return ConfigError.MissingData([...error.path], error.message, options)
    case "Unsupported":
      return ConfigError.Unsupported([...error.path], error.message, options)
    case "SourceUnavailable":
      return ConfigError.SourceUnavailable([...error.path], error.message, error.cause, options)
  }
}
