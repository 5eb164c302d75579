// The gridsvc API as the editor uses it: sign-in token, JSON calls, ETags and problems.

const BASE = "/api/v1";
const KEY = "gridsvc-token";

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export function token() {
  return sessionStorage.getItem(KEY);
}

export async function signIn(username, password) {
  const form = new URLSearchParams({ username, password });
  const response = await fetch(`${BASE}/token`, { method: "POST", body: form });
  const body = await response.json();
  if (!response.ok) throw new ApiError(response.status, body);
  sessionStorage.setItem(KEY, body.access_token);
}

export async function call(method, path, { body, etag } = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-Match"] = etag;
  const response = await fetch(`${BASE}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) throw new ApiError(response.status, data);
  return { data, etag: response.headers.get("ETag") };
}

// Every feature of a paged GeoJSON collection, following its "next" links.
export async function allFeatures(path) {
  const features = [];
  let next = `${BASE}${path}`;
  while (next) {
    const url = new URL(next, location.origin);
    const { data } = await call("GET", url.pathname.slice(BASE.length) + url.search);
    features.push(...data.features);
    next = (data.links || []).find((link) => link.rel === "next")?.href;
  }
  return { type: "FeatureCollection", features };
}

export function problems(error) {
  const body = error.body || {};
  const listed = (body.errors || []).map((p) => p.detail || p.message || JSON.stringify(p));
  return listed.length ? listed : [error.message];
}
