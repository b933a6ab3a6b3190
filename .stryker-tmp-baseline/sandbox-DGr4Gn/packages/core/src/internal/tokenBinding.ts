/**
 * What a token handed out by the token service is bound to: the DPoP key its proofs must be signed
 * with, the client certificate it must travel with. Kept beside the token, never in it: a token's
 * fields are what a `TokenCache` stores and what renderings show, and neither may hold a key.
 */
// @ts-nocheck
function stryNS_9fa48() {
  var g = typeof globalThis === 'object' && globalThis && globalThis.Math === Math && globalThis || new Function("return this")();
  var ns = g.__stryker__ || (g.__stryker__ = {});
  if (ns.activeMutant === undefined && g.process && g.process.env && g.process.env.__STRYKER_ACTIVE_MUTANT__) {
    ns.activeMutant = g.process.env.__STRYKER_ACTIVE_MUTANT__;
  }
  function retrieveNS() {
    return ns;
  }
  stryNS_9fa48 = retrieveNS;
  return retrieveNS();
}
stryNS_9fa48();
function stryCov_9fa48() {
  var ns = stryNS_9fa48();
  var cov = ns.mutantCoverage || (ns.mutantCoverage = {
    static: {},
    perTest: {}
  });
  function cover() {
    var c = cov.static;
    if (ns.currentTestId) {
      c = cov.perTest[ns.currentTestId] = cov.perTest[ns.currentTestId] || {};
    }
    var a = arguments;
    for (var i = 0; i < a.length; i++) {
      c[a[i]] = (c[a[i]] || 0) + 1;
    }
  }
  stryCov_9fa48 = cover;
  cover.apply(null, arguments);
}
function stryMutAct_9fa48(id) {
  var ns = stryNS_9fa48();
  function isActive(id) {
    if (ns.activeMutant === id) {
      if (ns.hitCount !== void 0 && ++ns.hitCount > ns.hitLimit) {
        throw new Error('Stryker: Hit count limit reached (' + ns.hitCount + ')');
      }
      return true;
    }
    return false;
  }
  stryMutAct_9fa48 = isActive;
  return isActive(id);
}
import * as Redacted from "effect/Redacted";
import * as Jose from "jose";
import type { AccessToken, Binding } from "../AccessToken.js";
import type * as ClientCredentialsClient from "../ClientCredentialsClient.js";
import * as MutualTls from "../MutualTls.js";

/** The binding of each token the service handed out; a token made or decoded elsewhere has none. */
export const bindings = new WeakMap<AccessToken, Binding>();

/**
 * Whether `token` is a JWT that names no certificate (`cnf.x5t#S256`, RFC 8705 §3.1): a server may
 * issue a certificate client unbound tokens, which then go over any transport. An opaque token
 * (or any doubt) counts as bound, so that it is never sent without its certificate.
 */
const isUnboundJwt = (token: AccessToken): boolean => {
  if (stryMutAct_9fa48("305")) {
    {}
  } else {
    stryCov_9fa48("305");
    let payload: Jose.JWTPayload;
    try {
      if (stryMutAct_9fa48("306")) {
        {}
      } else {
        stryCov_9fa48("306");
        payload = Jose.decodeJwt(Redacted.value(token.value));
      }
    } catch {
      if (stryMutAct_9fa48("307")) {
        {}
      } else {
        stryCov_9fa48("307");
        return stryMutAct_9fa48("308") ? true : (stryCov_9fa48("308"), false);
      }
    }
    const cnf = payload.cnf;
    return stryMutAct_9fa48("311") ? (typeof cnf !== "object" || cnf === null) && (cnf as Record<string, unknown>)["x5t#S256"] === undefined : stryMutAct_9fa48("310") ? false : stryMutAct_9fa48("309") ? true : (stryCov_9fa48("309", "310", "311"), (stryMutAct_9fa48("313") ? typeof cnf !== "object" && cnf === null : stryMutAct_9fa48("312") ? false : (stryCov_9fa48("312", "313"), (stryMutAct_9fa48("315") ? typeof cnf === "object" : stryMutAct_9fa48("314") ? false : (stryCov_9fa48("314", "315"), typeof cnf !== (stryMutAct_9fa48("316") ? "" : (stryCov_9fa48("316"), "object")))) || (stryMutAct_9fa48("318") ? cnf !== null : stryMutAct_9fa48("317") ? false : (stryCov_9fa48("317", "318"), cnf === null)))) || (stryMutAct_9fa48("320") ? (cnf as Record<string, unknown>)["x5t#S256"] !== undefined : stryMutAct_9fa48("319") ? false : (stryCov_9fa48("319", "320"), (cnf as Record<string, unknown>)[stryMutAct_9fa48("321") ? "" : (stryCov_9fa48("321"), "x5t#S256")] === undefined)));
  }
};

/**
 * `token` as `client` holds it: a copy carrying the key and certificate of this very definition,
 * the ones its token request was made with, so that whoever attaches the token signs with exactly
 * that key and presents exactly that certificate, even after the definition was replaced. A token
 * bound to nothing is returned as it is. The copy is made once per token entering the service.
 */
export const bind = (token: AccessToken, client: ClientCredentialsClient.ClientCredentialsClient): AccessToken => {
  if (stryMutAct_9fa48("322")) {
    {}
  } else {
    stryCov_9fa48("322");
    // Only a DPoP token is bound to the key: a Bearer answer the client allowed (`allowBearer`) is not.
    const key = (stryMutAct_9fa48("325") ? token.type !== "DPoP" : stryMutAct_9fa48("324") ? false : stryMutAct_9fa48("323") ? true : (stryCov_9fa48("323", "324", "325"), token.type === (stryMutAct_9fa48("326") ? "" : (stryCov_9fa48("326"), "DPoP")))) ? stryMutAct_9fa48("327") ? client.dpop.key : (stryCov_9fa48("327"), client.dpop?.key) : undefined;
    const ofClient = MutualTls.certificateOf(client);
    const certificate = (stryMutAct_9fa48("330") ? ofClient === undefined && isUnboundJwt(token) : stryMutAct_9fa48("329") ? false : stryMutAct_9fa48("328") ? true : (stryCov_9fa48("328", "329", "330"), (stryMutAct_9fa48("332") ? ofClient !== undefined : stryMutAct_9fa48("331") ? false : (stryCov_9fa48("331", "332"), ofClient === undefined)) || isUnboundJwt(token))) ? undefined : ofClient;
    if (stryMutAct_9fa48("335") ? key === undefined || certificate === undefined : stryMutAct_9fa48("334") ? false : stryMutAct_9fa48("333") ? true : (stryCov_9fa48("333", "334", "335"), (stryMutAct_9fa48("337") ? key !== undefined : stryMutAct_9fa48("336") ? true : (stryCov_9fa48("336", "337"), key === undefined)) && (stryMutAct_9fa48("339") ? certificate !== undefined : stryMutAct_9fa48("338") ? true : (stryCov_9fa48("338", "339"), certificate === undefined)))) return token;
    const copy = new (token.constructor as typeof AccessToken)(token, stryMutAct_9fa48("340") ? {} : (stryCov_9fa48("340"), {
      disableValidation: stryMutAct_9fa48("341") ? false : (stryCov_9fa48("341"), true)
    }));
    bindings.set(copy, stryMutAct_9fa48("342") ? {} : (stryCov_9fa48("342"), {
      key,
      certificate
    }));
    return copy;
  }
};