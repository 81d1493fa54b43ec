// SPDX-License-Identifier: Apache-2.0
// board/js/session.js: who the board is signed in as (a token of this tab, or the trusted proxy's user) and
// what that principal may do; pages ask here, the server decides.
import * as api from './api.js';

// proxy: signed in without a token, as the user a trusted proxy names (X-Forwarded-User).
export const session = { name: null, roles: null, proxy: false };

// Whether the board has credentials: a token of this tab, or the trusted proxy's user.
export function isSignedIn() {
  return !!api.getToken() || session.proxy;
}

export function signedIn(info) {
  session.name = info.name;
  session.roles = info.roles;
  session.proxy = info.kind === 'USER' && !api.getToken();
}

// Forgets the token and the principal (sign-out, or a 401).
export function forget() {
  api.setToken(null);
  session.name = null;
  session.roles = null;
  session.proxy = false;
}

// Whether the principal may do OPERATOR things on env; unknown roles → assume yes (server decides).
export function canOperate(env) {
  if (!session.roles) return true;
  const rank = { READER: 0, PINGER: 1, PUBLISHER: 1, OPERATOR: 2, ADMIN: 3 };
  return session.roles.some(r => (r.type === 'SYSTEM' || r.resource === env || r.resource === '*') && rank[r.role] >= 2);
}

// Whether the principal is ADMIN for env (SYSTEM scope when env is omitted); unknown roles → yes.
export function canAdmin(env) {
  if (!session.roles) return true;
  return session.roles.some(r => r.role === 'ADMIN' && (r.type === 'SYSTEM' || (env !== undefined && r.resource === env)));
}

// Whether the principal is ADMIN of the system or of some env (shows the token pages).
export function isAdminSomewhere() {
  return !session.roles || session.roles.some(r => r.role === 'ADMIN');
}

// Settles once the principal of a token kept from earlier in this tab (or the proxy's user) is known; pages
// that hide what the principal may not do await it before their first render.
let known = Promise.resolve();
export function whenSessionKnown() { return known; }
export function setSessionKnown(p) { known = p; }
