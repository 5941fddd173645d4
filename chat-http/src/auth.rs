//! Who is calling and may they: the session token from the `chat_session` cookie or an
//! `Authorization: Bearer` header, the session cookie itself, the `Origin` allow-list (against
//! cross-site WebSocket hijacking) and the CSRF check of cookie-authenticated writes.

use crate::config::HttpConfig;
use crate::error::ApiError;
use chat_core::SessionToken;
use http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN, REFERER};
use http::{HeaderMap, HeaderValue, Method};
use std::time::Duration;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "chat_session";

/// How a request carried its session token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer <token>`: not sent by browsers on their own, no CSRF risk.
    Bearer,
    /// The `chat_session` cookie: browsers attach it, so writes need the Origin check.
    Cookie,
}

/// The session token of a request: a bearer header first, else the session cookie.
pub fn session_token(headers: &HeaderMap) -> Option<(SessionToken, Via)> {
    if let Some(token) = bearer(headers) {
        return Some((SessionToken::from_client(token), Via::Bearer));
    }
    cookie(headers, SESSION_COOKIE).map(|t| (SessionToken::from_client(t), Via::Cookie))
}

/// The credential of an `Authorization: Bearer <credential>` header, if the request carries
/// one that is not empty.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The value of cookie `name`, if the request carries it and it is not empty.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.trim_matches('"').to_owned())
}

/// The percent-decoded value of parameter `name` in a query string, if present and not empty.
pub fn query_parameter(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .and_then(|(_, value)| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8()
                .ok()
        })
        .map(|value| value.into_owned())
}

/// `Set-Cookie` value opening a session: HttpOnly, SameSite=Lax, `Secure` when `secure`, and
/// the `Path` of the chat's mount (`/chat/`; `/` at the root).
pub fn session_cookie(
    token: &SessionToken,
    ttl: Duration,
    secure: bool,
    mount: &str,
) -> Option<HeaderValue> {
    let attributes = cookie_attributes(secure, mount);
    let cookie = format!(
        "{SESSION_COOKIE}={}; Max-Age={}{attributes}",
        token.as_str(),
        ttl.as_secs()
    );
    HeaderValue::from_str(&cookie).ok()
}

/// `Set-Cookie` value deleting the session cookie.
pub fn clear_cookie(secure: bool, mount: &str) -> Option<HeaderValue> {
    let attributes = cookie_attributes(secure, mount);
    HeaderValue::from_str(&format!("{SESSION_COOKIE}=; Max-Age=0{attributes}")).ok()
}

fn cookie_attributes(secure: bool, mount: &str) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("; Path={mount}/; HttpOnly; SameSite=Lax{secure}")
}

/// `scheme://host[:port]` lower-cased, without a trailing slash or path.
fn origin_of(url: &str) -> Option<String> {
    let url = url.trim();
    let scheme_end = url.find("://")?;
    let rest = &url[scheme_end + 3..];
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    if authority.is_empty() {
        return None;
    }
    Some(format!("{}://{}", &url[..scheme_end], authority).to_ascii_lowercase())
}

/// Whether `origin` (an `Origin` header value or a URL) may act on this server: listed in
/// `allowed_origins`, or, with an empty list, on the same host as the request's `Host`.
pub fn origin_allowed(origin: &str, headers: &HeaderMap, config: &HttpConfig) -> bool {
    let Some(origin) = origin_of(origin) else {
        return false;
    };
    if !config.allowed_origins.is_empty() {
        return config
            .allowed_origins
            .iter()
            .filter_map(|o| origin_of(o))
            .any(|o| o == origin);
    }
    let Some(host) = headers.get(HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let authority = origin.split_once("://").map_or("", |(_, a)| a);
    authority.eq_ignore_ascii_case(host.trim())
}

/// Refuses (403 `forbidden_origin`) a request whose `Origin` header is present and not allowed.
pub fn check_origin(headers: &HeaderMap, config: &HttpConfig) -> Result<(), ApiError> {
    match headers.get(ORIGIN) {
        None => Ok(()),
        Some(v) => match v.to_str() {
            Ok(origin) if origin_allowed(origin, headers, config) => Ok(()),
            _ => Err(ApiError::forbidden(
                "forbidden_origin",
                "requests from this origin are not allowed",
            )),
        },
    }
}

/// Whether a method changes state (and so needs CSRF protection).
pub fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The CSRF check of a state-changing request: a foreign `Origin` is always refused; a
/// cookie-authenticated one must show an allowed `Origin` or, failing that, `Referer`.
pub fn check_csrf(
    method: &Method,
    headers: &HeaderMap,
    via: Option<Via>,
    config: &HttpConfig,
) -> Result<(), ApiError> {
    if !is_write(method) {
        return Ok(());
    }
    check_origin(headers, config)?;
    if via != Some(Via::Cookie) || headers.contains_key(ORIGIN) {
        return Ok(());
    }
    match headers.get(REFERER).and_then(|v| v.to_str().ok()) {
        Some(referer) if origin_allowed(referer, headers, config) => Ok(()),
        _ => Err(ApiError::forbidden(
            "csrf_check_failed",
            "cookie-authenticated writes need an Origin or Referer of this site",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn reads_bearer_before_cookie() {
        let h = headers(&[
            ("authorization", "Bearer abc"),
            ("cookie", "chat_session=xyz"),
        ]);
        let (t, via) = session_token(&h).unwrap();
        assert_eq!((t.as_str(), via), ("abc", Via::Bearer));
        let h = headers(&[("cookie", "a=1; chat_session=xyz; b=2")]);
        let (t, via) = session_token(&h).unwrap();
        assert_eq!((t.as_str(), via), ("xyz", Via::Cookie));
        assert!(session_token(&headers(&[("cookie", "chat_session=")])).is_none());
        assert!(session_token(&headers(&[("authorization", "Basic x")])).is_none());
    }

    #[test]
    fn same_origin_by_default_or_listed() {
        let config = HttpConfig::default();
        let h = headers(&[("host", "127.0.0.1:8000")]);
        assert!(origin_allowed("http://127.0.0.1:8000", &h, &config));
        assert!(!origin_allowed("http://evil.example", &h, &config));
        assert!(!origin_allowed("null", &h, &config));
        let config = HttpConfig {
            allowed_origins: vec!["https://chat.example/".into()],
            ..HttpConfig::default()
        };
        assert!(origin_allowed("https://chat.example", &h, &config));
        assert!(!origin_allowed("http://127.0.0.1:8000", &h, &config));
    }

    #[test]
    fn csrf_needs_origin_for_cookie_writes() {
        let config = HttpConfig::default();
        let host = ("host", "localhost:1");
        let ok = |pairs: &[(&'static str, &str)], via| {
            check_csrf(&Method::POST, &headers(pairs), via, &config).is_ok()
        };
        assert!(ok(&[host], Some(Via::Bearer)));
        assert!(!ok(&[host], Some(Via::Cookie)));
        assert!(ok(
            &[host, ("origin", "http://localhost:1")],
            Some(Via::Cookie)
        ));
        assert!(ok(
            &[host, ("referer", "http://localhost:1/rooms/x")],
            Some(Via::Cookie)
        ));
        assert!(!ok(&[host, ("origin", "http://evil")], Some(Via::Bearer)));
        assert!(check_csrf(&Method::GET, &headers(&[host]), Some(Via::Cookie), &config).is_ok());
    }

    #[test]
    fn cookie_attributes() {
        let t = SessionToken::from_client("tok");
        let c = session_cookie(&t, Duration::from_secs(60), true, "").unwrap();
        let c = c.to_str().unwrap();
        assert!(c.starts_with("chat_session=tok;"));
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(c.contains("; Path=/;"), "{c}");
        let c = session_cookie(&t, Duration::from_secs(60), false, "/chat").unwrap();
        assert!(c.to_str().unwrap().contains("; Path=/chat/;"), "{c:?}");
        assert!(!c.to_str().unwrap().contains("Secure"));
        let cleared = clear_cookie(false, "/chat").unwrap();
        assert!(
            cleared
                .to_str()
                .unwrap()
                .contains("Max-Age=0; Path=/chat/;")
        );
    }
}
