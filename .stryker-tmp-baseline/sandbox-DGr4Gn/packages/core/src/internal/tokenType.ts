/**
 * Normalises `token_type` for the `Authorization` header as Duende does: `bearer` in any case
 * becomes `Bearer`, `dpop` becomes `DPoP`, anything else is kept as sent. A missing type means
 * `Bearer`.
 */
// @ts-nocheck

export const normalizeTokenType = (tokenType: string | undefined): string => {
  if (tokenType === undefined) return "Bearer"
  const lower = tokenType.toLowerCase()
  return lower === "bearer" ? "Bearer" : lower === "dpop" ? "DPoP" : tokenType
}
