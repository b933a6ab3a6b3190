/**
 * The form parameters an extra parameter may not set, written out by hand, not read from the
 * module, so that a name dropped from the module's list is noticed: the grant (RFC 6749 §4.4.2,
 * RFC 7523 §2.1), the client's identity and credentials (RFC 6749 §2.3.1, RFC 7521 §4.2), and the
 * fields of their own (`scope`, RFC 8707's `resource`).
 */
export const reservedByTheRfcs: ReadonlyArray<string> = [
  "grant_type",
  "client_id",
  "client_secret",
  "client_assertion",
  "client_assertion_type",
  "assertion",
  "scope",
  "resource"
]
