// The JSON API as the console calls it: the credential the user signed in with (the admin
// token or an API key with the `admin` scope) is kept in this tab's sessionStorage only and
// sent as a Bearer token; the API itself decides what it may see and do.
const KEY = 'hookfleet.console.credential';

export const session = {
  get() { return sessionStorage.getItem(KEY); },
  set(credential) { sessionStorage.setItem(KEY, credential); },
  clear() { sessionStorage.removeItem(KEY); },
};

/** An answer that was not a success, with the API's error code and message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, path, body, credential) {
  const headers = { Authorization: `Bearer ${credential}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = null; }
  if (!res.ok) {
    const err = data && data.error ? data.error : {};
    throw new ApiError(res.status, err.code || `http_${res.status}`,
      err.message || text.slice(0, 200) || res.statusText);
  }
  return data;
}

/** Calls the API with the signed-in credential; a 401 signs out and goes to the login page. */
export async function api(method, path, body) {
  const credential = session.get();
  if (!credential) {
    location.hash = '#/login';
    throw new ApiError(401, 'unauthorized', 'Sign in first');
  }
  try {
    return await call(method, path, body, credential);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      session.clear();
      location.hash = '#/login?expired=1';
    }
    throw e;
  }
}

/** Checks a credential against the API before keeping it: null when it may use the console. */
export async function checkCredential(credential) {
  try {
    await call('GET', '/v1/subscriptions?limit=1', undefined, credential);
    return null;
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return 'This token or key was not accepted.';
    if (e instanceof ApiError && e.status === 403) {
      return 'This key may not manage the fleet: the console needs the admin token or a key with the admin scope.';
    }
    return `The API could not be reached: ${e.message}`;
  }
}

/** `?a=1&b=2` of the non-empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** An error as text for a notice. */
export function describe(e) {
  if (e instanceof ApiError) return `${e.message} (${e.status} ${e.code})`;
  return String(e && e.message ? e.message : e);
}
