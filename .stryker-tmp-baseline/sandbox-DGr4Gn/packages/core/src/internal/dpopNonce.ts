/**
 * DPoP nonces (RFC 9449 §8, §9): what each server asked proofs to carry, by origin, and how a
 * resource server asks for one.
 *
 * @internal
 */
// @ts-nocheck


/** RFC 9449 §8.1: `nonce = 1*NQCHAR`. Anything else a server sends is ignored. */function stryNS_9fa48() {
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
const nonceSyntax = stryMutAct_9fa48("3") ? /^[^\x21\x23-\x5B\x5D-\x7E]+$/ : stryMutAct_9fa48("2") ? /^[\x21\x23-\x5B\x5D-\x7E]$/ : stryMutAct_9fa48("1") ? /^[\x21\x23-\x5B\x5D-\x7E]+/ : stryMutAct_9fa48("0") ? /[\x21\x23-\x5B\x5D-\x7E]+$/ : (stryCov_9fa48("0", "1", "2", "3"), /^[\x21\x23-\x5B\x5D-\x7E]+$/);

/** The longest nonce kept: a server is free to send more, but not to make the store hold it. */
const maxNonceLength = 1024;
const originPattern = stryMutAct_9fa48("9") ? /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[/?#]*/ : stryMutAct_9fa48("8") ? /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]/ : stryMutAct_9fa48("7") ? /^[A-Za-z][^A-Za-z0-9+.-]*:\/\/[^/?#]*/ : stryMutAct_9fa48("6") ? /^[A-Za-z][A-Za-z0-9+.-]:\/\/[^/?#]*/ : stryMutAct_9fa48("5") ? /^[^A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/ : stryMutAct_9fa48("4") ? /[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/ : (stryCov_9fa48("4", "5", "6", "7", "8", "9"), /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/);

/**
 * The origin of an absolute URL without parsing it; `undefined` for anything else.
 *
 * @internal
 */
export const originOf = (url: string): string | undefined => {
  if (stryMutAct_9fa48("10")) {
    {}
  } else {
    stryCov_9fa48("10");
    const match = originPattern.exec(url);
    return (stryMutAct_9fa48("13") ? match !== null : stryMutAct_9fa48("12") ? false : stryMutAct_9fa48("11") ? true : (stryCov_9fa48("11", "12", "13"), match === null)) ? undefined : stryMutAct_9fa48("14") ? match[0].toUpperCase() : (stryCov_9fa48("14"), match[0].toLowerCase());
  }
};

/**
 * The nonces servers gave, by origin, least recently used evicted first (as oauth4webapi keeps
 * them).
 *
 * @internal
 */
export class NonceStore {
  private readonly nonces = new Map<string, string>();
  constructor(readonly capacity: number) {}
  get(url: string): string | undefined {
    if (stryMutAct_9fa48("15")) {
      {}
    } else {
      stryCov_9fa48("15");
      const origin = originOf(url);
      return (stryMutAct_9fa48("18") ? origin !== undefined : stryMutAct_9fa48("17") ? false : stryMutAct_9fa48("16") ? true : (stryCov_9fa48("16", "17", "18"), origin === undefined)) ? undefined : this.nonces.get(origin);
    }
  }

  /** Remembers the `DPoP-Nonce` of a response, if it has a valid one; true when it is new. */
  update(url: string, header: string | undefined): boolean {
    if (stryMutAct_9fa48("19")) {
      {}
    } else {
      stryCov_9fa48("19");
      if (stryMutAct_9fa48("22") ? header !== undefined : stryMutAct_9fa48("21") ? false : stryMutAct_9fa48("20") ? true : (stryCov_9fa48("20", "21", "22"), header === undefined)) return stryMutAct_9fa48("23") ? true : (stryCov_9fa48("23"), false);
      const nonce = stryMutAct_9fa48("24") ? header : (stryCov_9fa48("24"), header.trim());
      if (stryMutAct_9fa48("27") ? (nonce.length === 0 || nonce.length > maxNonceLength) && !nonceSyntax.test(nonce) : stryMutAct_9fa48("26") ? false : stryMutAct_9fa48("25") ? true : (stryCov_9fa48("25", "26", "27"), (stryMutAct_9fa48("29") ? nonce.length === 0 && nonce.length > maxNonceLength : stryMutAct_9fa48("28") ? false : (stryCov_9fa48("28", "29"), (stryMutAct_9fa48("31") ? nonce.length !== 0 : stryMutAct_9fa48("30") ? false : (stryCov_9fa48("30", "31"), nonce.length === 0)) || (stryMutAct_9fa48("34") ? nonce.length <= maxNonceLength : stryMutAct_9fa48("33") ? nonce.length >= maxNonceLength : stryMutAct_9fa48("32") ? false : (stryCov_9fa48("32", "33", "34"), nonce.length > maxNonceLength)))) || (stryMutAct_9fa48("35") ? nonceSyntax.test(nonce) : (stryCov_9fa48("35"), !nonceSyntax.test(nonce))))) return stryMutAct_9fa48("36") ? true : (stryCov_9fa48("36"), false);
      const origin = originOf(url);
      if (stryMutAct_9fa48("39") ? origin !== undefined : stryMutAct_9fa48("38") ? false : stryMutAct_9fa48("37") ? true : (stryCov_9fa48("37", "38", "39"), origin === undefined)) return stryMutAct_9fa48("40") ? true : (stryCov_9fa48("40"), false);
      const previous = this.nonces.get(origin);
      this.nonces.delete(origin);
      this.nonces.set(origin, nonce);
      if (stryMutAct_9fa48("44") ? this.nonces.size <= this.capacity : stryMutAct_9fa48("43") ? this.nonces.size >= this.capacity : stryMutAct_9fa48("42") ? false : stryMutAct_9fa48("41") ? true : (stryCov_9fa48("41", "42", "43", "44"), this.nonces.size > this.capacity)) this.nonces.delete(this.nonces.keys().next().value!);
      return stryMutAct_9fa48("47") ? previous === nonce : stryMutAct_9fa48("46") ? false : stryMutAct_9fa48("45") ? true : (stryCov_9fa48("45", "46", "47"), previous !== nonce);
    }
  }
  get size(): number {
    if (stryMutAct_9fa48("48")) {
      {}
    } else {
      stryCov_9fa48("48");
      return this.nonces.size;
    }
  }
}

/**
 * Whether a resource server's `401` asks for a nonce (RFC 9449 §9): a challenge with
 * `error="use_dpop_nonce"`. Servers seen in the wild put it under the `Bearer` scheme, so the
 * scheme is not checked.
 *
 * @internal
 */
export const isNonceChallenge = stryMutAct_9fa48("49") ? () => undefined : (stryCov_9fa48("49"), (() => {
  const isNonceChallenge = (status: number, wwwAuthenticate: string | undefined): boolean => stryMutAct_9fa48("52") ? status === 401 && wwwAuthenticate !== undefined || /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i.test(wwwAuthenticate) : stryMutAct_9fa48("51") ? false : stryMutAct_9fa48("50") ? true : (stryCov_9fa48("50", "51", "52"), (stryMutAct_9fa48("54") ? status === 401 || wwwAuthenticate !== undefined : stryMutAct_9fa48("53") ? true : (stryCov_9fa48("53", "54"), (stryMutAct_9fa48("56") ? status !== 401 : stryMutAct_9fa48("55") ? true : (stryCov_9fa48("55", "56"), status === 401)) && (stryMutAct_9fa48("58") ? wwwAuthenticate === undefined : stryMutAct_9fa48("57") ? true : (stryCov_9fa48("57", "58"), wwwAuthenticate !== undefined)))) && (stryMutAct_9fa48("70") ? /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\S,]|$)/i : stryMutAct_9fa48("69") ? /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[^\s,]|$)/i : stryMutAct_9fa48("68") ? /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,])/i : stryMutAct_9fa48("67") ? /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"(?:[\s,]|$)/i : stryMutAct_9fa48("66") ? /(?:^|[\s,])error\s*=\s*"use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("65") ? /(?:^|[\s,])error\s*=\S*"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("64") ? /(?:^|[\s,])error\s*=\s"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("63") ? /(?:^|[\s,])error\S*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("62") ? /(?:^|[\s,])error\s=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("61") ? /(?:^|[\S,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("60") ? /(?:^|[^\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i : stryMutAct_9fa48("59") ? /(?:[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i : (stryCov_9fa48("59", "60", "61", "62", "63", "64", "65", "66", "67", "68", "69", "70"), /(?:^|[\s,])error\s*=\s*"?use_dpop_nonce"?(?:[\s,]|$)/i)).test(wwwAuthenticate));
  return isNonceChallenge;
})());