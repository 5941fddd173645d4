// urls.js: the URLs of the JSON API and of the WebSocket under a base URL. The chat may be
// mounted under a path (`https://example.com/chat`); an empty or relative base means the page's
// own origin in a browser.

/** `base` without trailing slashes, joined to an absolute path (`/api/me`). */
export function apiUrl(base, path) {
  return String(base || '').replace(/\/+$/, '') + path;
}

/**
 * The WebSocket URL: `url`, else `baseUrl` with `/ws`; an http(s) scheme becomes ws(s).
 * `params` are added to the query string (skipped when null or undefined).
 * @param {{url?: string, baseUrl?: string, params?: Record<string, string | null | undefined>}} options
 */
export function socketUrl({ url, baseUrl, params = {} }) {
  let target;
  if (url) {
    target = new URL(url, pageLocation());
  } else {
    const page = pageLocation();
    if (!page && !/^https?:\/\//i.test(baseUrl || '')) {
      throw new TypeError('ChatClient needs an absolute baseUrl (or url) outside a browser page');
    }
    target = new URL(apiUrl(baseUrl, '/ws'), page);
  }
  if (target.protocol === 'https:') target.protocol = 'wss:';
  if (target.protocol === 'http:') target.protocol = 'ws:';
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined) target.searchParams.set(name, value);
  }
  return target.toString();
}

function pageLocation() {
  const location = globalThis.location;
  return location && typeof location.href === 'string' ? location.href : undefined;
}
