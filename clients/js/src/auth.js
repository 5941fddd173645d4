// auth.js: where requests and sockets get their credential. A token is a string, or a function
// (possibly async) asked again before every request and every (re)connect, so an app that
// refreshes short-lived tokens (JWTs) hands out a fresh one each time. No token: the browser's
// session cookie is the credential.

/**
 * The current token, or null.
 * @param {string | null | undefined | (() => string | null | undefined | Promise<string | null | undefined>)} token
 * @returns {Promise<string | null>}
 */
export async function resolveToken(token) {
  const value = typeof token === 'function' ? await token() : token;
  return value ? String(value) : null;
}
