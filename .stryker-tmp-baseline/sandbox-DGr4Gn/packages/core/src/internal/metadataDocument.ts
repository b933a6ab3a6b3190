/**
 * The schema of an authorization server metadata document. It imports nothing of this library, so
 * that the public module can declare it as it loads while the modules that read documents import
 * that module's errors.
 */
// @ts-nocheck

import * as Schema from "effect/Schema"

const StringList = Schema.Array(Schema.String)

/**
 * The members this library reads, typed; every other member is kept as it came.
 */
export const Metadata = Schema.Struct(
  {
    issuer: Schema.String,
    token_endpoint: Schema.optional(Schema.String),
    jwks_uri: Schema.optional(Schema.String),
    scopes_supported: Schema.optional(StringList),
    grant_types_supported: Schema.optional(StringList),
    token_endpoint_auth_methods_supported: Schema.optional(StringList),
    token_endpoint_auth_signing_alg_values_supported: Schema.optional(StringList),
    dpop_signing_alg_values_supported: Schema.optional(StringList),
    mtls_endpoint_aliases: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
  },
  Schema.Record({ key: Schema.String, value: Schema.Unknown })
)
