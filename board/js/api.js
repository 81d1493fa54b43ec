// SPDX-License-Identifier: Apache-2.0
// board/js/api.js: the REST client of the board: token storage, authenticated fetch, JSON errors.

const TOKEN_KEY = 'slipway.token';

export class ApiError extends Error {
  constructor(status, message, field) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.field = field || null;
  }
}

export function getToken() {
  try { return sessionStorage.getItem(TOKEN_KEY); } catch { return null; }
}

export function setToken(t) {
  if (t) sessionStorage.setItem(TOKEN_KEY, t);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// Listeners called when the server answers 401 (token gone or expired).
const unauthorizedHandlers = new Set();
export function onUnauthorized(fn) { unauthorizedHandlers.add(fn); }

export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v)) v.forEach(x => u.append(k, x));
    else u.append(k, String(v));
  }
  const s = u.toString();
  return s ? '?' + s : '';
}

export const enc = encodeURIComponent;

// request(method, path, {query, body, token}) → parsed JSON, text, or null for 204.
export async function request(method, path, opts = {}) {
  const token = opts.token !== undefined ? opts.token : getToken();
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = 'token ' + token;
  let body;
  // every write says JSON, even without a body: the server refuses other writes from a proxy-signed-in
  // user (a cross-site form cannot send this type)
  if (opts.body !== undefined || method !== 'GET') headers['Content-Type'] = 'application/json';
  if (opts.body !== undefined) body = JSON.stringify(opts.body);
  let res;
  try {
    res = await fetch(path + qs(opts.query), { method, headers, body, signal: opts.signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'cannot reach the server: ' + e.message);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!res.ok) {
    const msg = data && typeof data === 'object' ? data.message : (typeof data === 'string' ? data.slice(0, 300) : '');
    const err = new ApiError(res.status, msg || `${method} ${path}: HTTP ${res.status}`, data && data.field);
    if (res.status === 401 && opts.token === undefined) unauthorizedHandlers.forEach(fn => fn(err));
    throw err;
  }
  return res.status === 204 ? null : data;
}

export const get = (path, query, o) => request('GET', path, { ...o, query });
export const put = (path, body, query) => request('PUT', path, { body, query });
export const post = (path, body, query) => request('POST', path, { body, query });
export const del = (path, body, query) => request('DELETE', path, { body, query });

export const stagePath = (env, stage) => `/v1/envs/${enc(env)}/${enc(stage)}`;

// Validates a token: whoami when the server has it, else an authenticated probe.
// Returns {name, kind, roles} (roles null when unknown).
export async function validateToken(token) {
  try {
    const me = await request('GET', '/v1/system/whoami', { token });
    return { name: me.name || 'token', kind: me.kind || 'TOKEN', roles: Array.isArray(me.roles) ? me.roles : null };
  } catch (e) {
    if (e.status !== 404 && e.status !== 405) throw e;
  }
  await request('GET', '/v1/envs/names', { token, query: { pageSize: 1 } });
  return { name: null, kind: 'TOKEN', roles: null };
}

// The user a trusted proxy signs in (whoami without a token answers kind USER), or null: no proxy, an
// ANONYMOUS answer (anonymous_role) or any error.
export async function proxyUser() {
  try {
    const me = await request('GET', '/v1/system/whoami', { token: null });
    if (!me || me.kind !== 'USER') return null;
    return { name: me.name, kind: 'USER', roles: Array.isArray(me.roles) ? me.roles : null };
  } catch {
    return null;
  }
}

// Memo of builds by id (builds are immutable).
const buildCache = new Map();
export async function getBuild(id) {
  if (!id) return null;
  if (buildCache.has(id)) return buildCache.get(id);
  const p = get(`/v1/builds/${enc(id)}`).catch(e => { buildCache.delete(id); if (e.status === 404) return null; throw e; });
  buildCache.set(id, p);
  return p;
}

// Memo of env stages by id (for deploy lists); refreshed on a miss.
const envById = new Map();
export async function getEnvById(id) {
  if (!id) return null;
  if (envById.has(id)) return envById.get(id);
  const p = get(`/v1/envs/${enc(id)}`).catch(() => null);
  envById.set(id, p);
  return p;
}
