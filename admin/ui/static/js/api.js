// The admin API, same origin, with the signed-in operator's token.

const KEY = 'modelgate.console.token';

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export const session = {
  token() { return sessionStorage.getItem(KEY); },
  set(t) { sessionStorage.setItem(KEY, t); },
  clear() { sessionStorage.removeItem(KEY); },
};

// onUnauthorized is called when the API refuses the session's token (401):
// the app signs out.
let onUnauthorized = () => {};
export function setUnauthorizedHandler(f) { onUnauthorized = f; }

// call sends one request; token defaults to the session's. JSON answers
// are parsed; ndjson ones split into objects.
export async function call(method, path, { body, ifMatch, token } = {}) {
  const headers = { Authorization: 'Bearer ' + (token ?? session.token() ?? '') };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (ifMatch) headers['If-Match'] = `"${ifMatch}"`;
  const res = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    credentials: 'omit', cache: 'no-store', redirect: 'error',
  });
  const text = await res.text();
  let data = null;
  const type = res.headers.get('Content-Type') || '';
  try {
    if (type.startsWith('application/x-ndjson')) data = text.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    else if (text) data = JSON.parse(text);
  } catch { data = { error: 'unreadable answer' }; }
  if (!res.ok) {
    if (res.status === 401 && token === undefined) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return { data, etag: res.headers.get('ETag') };
}

export const get = (path, opts) => call('GET', path, opts).then((r) => r.data);
export const post = (path, body, opts = {}) => call('POST', path, { ...opts, body }).then((r) => r.data);
export const put = (path, body, opts = {}) => call('PUT', path, { ...opts, body }).then((r) => r.data);

// Roles as the API ranks them (configs.RoleRank).
const RANK = { viewer: 1, operator: 2, approver: 3, admin: 4 };
export function atLeast(who, role) { return (RANK[who?.role] || 0) >= RANK[role]; }

export const enc = encodeURIComponent;
