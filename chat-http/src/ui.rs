//! The web UI, embedded in the binary with `include_bytes!` so it works offline: the page
//! routes (`/`, `/login`, `/signup`, `/account`, `/rooms/{name}`, `/admin`) and
//! `/static/{file}`, with the JavaScript client SDK (`clients/js`), through which the room page
//! talks to the server.
//!
//! Every response of these routes (pages, assets, the redirect to `/login`, errors) carries
//! the [`CONTENT_SECURITY_POLICY`] and the other browser security headers: the UI loads only
//! its own scripts, styles and sockets, runs no inline code, and cannot be framed.

use crate::ChatHttp;
use crate::api::Ctx;
use crate::dispatch::{error_response, text_response};
use crate::error::ApiError;
use bytes::Bytes;
use http::header::{
    CONTENT_SECURITY_POLICY as CSP, HeaderName, LOCATION, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

/// The `Content-Security-Policy` of every UI response: scripts, styles, images and
/// connections (`fetch`, and same-origin `ws:`/`wss:` sockets) from the page's own origin only,
/// no inline scripts or style attributes, no plugins, no framing, forms and `<base>` only to
/// the own origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; frame-ancestors 'none'; \
     object-src 'none'; base-uri 'self'; form-action 'self'";

/// The security headers of every UI response: [`CONTENT_SECURITY_POLICY`],
/// `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY` (for browsers without
/// `frame-ancestors`) and `Referrer-Policy: same-origin`.
pub fn security_headers() -> [(HeaderName, HeaderValue); 4] {
    [
        (CSP, HeaderValue::from_static(CONTENT_SECURITY_POLICY)),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (REFERRER_POLICY, HeaderValue::from_static("same-origin")),
    ]
}

fn add_security_headers(headers: &mut HeaderMap) {
    for (name, value) in security_headers() {
        headers.insert(name, value);
    }
}

/// The UI's page paths besides `/rooms/{name}`; adapters that route by path mount these, that
/// and `/static/{*file}`.
pub const PAGES: [&str; 5] = ["/", "/login", "/signup", "/account", "/admin"];

const JS: &str = "text/javascript; charset=utf-8";

/// A JavaScript file of [`ASSETS`]: name under `/static/`, path relative to this file.
macro_rules! js {
    ($name:literal, $path:literal) => {
        ($name, include_bytes!($path), JS)
    };
}

/// Every embedded file: name under `/static/`, bytes, content type.
///
/// The names follow the source tree, so the ES modules' relative imports resolve as they do on
/// disk: the UI's files (`chat-http/ui/`) at the top, the room page's parts in `room/`, and the
/// JavaScript client SDK (`clients/js/src/`) in `client/`.
pub const ASSETS: [(&str, &[u8], &str); 32] = [
    (
        "index.html",
        include_bytes!("../ui/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "admin.html",
        include_bytes!("../ui/admin.html"),
        "text/html; charset=utf-8",
    ),
    (
        "style.css",
        include_bytes!("../ui/style.css"),
        "text/css; charset=utf-8",
    ),
    js!("app.js", "../ui/app.js"),
    js!("admin.js", "../ui/admin.js"),
    js!("endpoints.js", "../ui/endpoints.js"),
    js!("dom.js", "../ui/dom.js"),
    js!("room/page.js", "../ui/room/page.js"),
    js!("room/banner.js", "../ui/room/banner.js"),
    js!("room/composer.js", "../ui/room/composer.js"),
    js!("room/editor.js", "../ui/room/editor.js"),
    js!("room/history.js", "../ui/room/history.js"),
    js!("room/members.js", "../ui/room/members.js"),
    js!("room/message-list.js", "../ui/room/message-list.js"),
    js!("room/pending.js", "../ui/room/pending.js"),
    js!("room/search.js", "../ui/room/search.js"),
    js!("room/typing.js", "../ui/room/typing.js"),
    js!("client/index.js", "../../clients/js/src/index.js"),
    js!("client/api.js", "../../clients/js/src/api.js"),
    js!("client/auth.js", "../../clients/js/src/auth.js"),
    js!("client/backoff.js", "../../clients/js/src/backoff.js"),
    js!("client/client.js", "../../clients/js/src/client.js"),
    js!(
        "client/close-codes.js",
        "../../clients/js/src/close-codes.js"
    ),
    js!("client/connection.js", "../../clients/js/src/connection.js"),
    js!("client/errors.js", "../../clients/js/src/errors.js"),
    js!("client/events.js", "../../clients/js/src/events.js"),
    js!("client/frames.js", "../../clients/js/src/frames.js"),
    js!("client/outbox.js", "../../clients/js/src/outbox.js"),
    js!("client/requests.js", "../../clients/js/src/requests.js"),
    js!("client/rooms.js", "../../clients/js/src/rooms.js"),
    js!("client/socket.js", "../../clients/js/src/socket.js"),
    js!("client/urls.js", "../../clients/js/src/urls.js"),
];

/// An embedded file by name: its bytes and content type.
pub fn asset(name: &str) -> Option<(&'static [u8], &'static str)> {
    ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(_, bytes, kind)| (*bytes, *kind))
}

fn file(name: &str) -> Result<Response<Bytes>, ApiError> {
    let (bytes, kind) = asset(name).ok_or_else(ApiError::not_found)?;
    Ok(text_response(
        StatusCode::OK,
        kind,
        Bytes::from_static(bytes),
    ))
}

/// Whether `path` is a page of the UI (one of [`PAGES`] or `/rooms/{name}`) or one of its files
/// (`/static/{*file}`, a name of [`ASSETS`]).
pub fn serves(path: &str) -> bool {
    PAGES.contains(&path)
        || path
            .strip_prefix("/rooms/")
            .is_some_and(|n| !n.is_empty() && !n.contains('/'))
        || static_name(path).is_some()
}

/// Whether `chat` serves the UI path `path`: the account pages (`/login`, `/signup`,
/// `/account`) only with the chat's own accounts, `/admin` only with `serve_admin`.
pub(crate) fn serves_here(chat: &ChatHttp, path: &str) -> bool {
    match path {
        "/login" | "/signup" | "/account" => chat.own_accounts(),
        "/admin" => chat.config().serve_admin,
        _ => serves(path),
    }
}

/// The file name of a `/static/{file}` path.
fn static_name(path: &str) -> Option<&str> {
    path.strip_prefix("/static/")
        .filter(|name| ASSETS.iter().any(|(n, _, _)| n == name))
}

pub(crate) async fn page(ctx: &Ctx<'_>, path: &str) -> Result<Response<Bytes>, ApiError> {
    let mut response = match route(ctx, path).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    };
    add_security_headers(response.headers_mut());
    Ok(response)
}

async fn route(ctx: &Ctx<'_>, path: &str) -> Result<Response<Bytes>, ApiError> {
    if !serves_here(ctx.chat, path) {
        return Err(ApiError::not_found());
    }
    ctx.allow(&[Method::GET, Method::HEAD])?;
    if let Some(name) = static_name(path) {
        return file(name);
    }
    if path != "/admin" {
        return page_html(ctx, "index.html");
    }
    let user = ctx
        .chat
        .caller(ctx.parts)
        .await
        .ok()
        .map(|caller| caller.user);
    let mount = ctx.mount();
    match user {
        None => {
            let mut response =
                text_response(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
            let to = if ctx.chat.own_accounts() {
                "/login"
            } else {
                "/"
            };
            if let Ok(location) = HeaderValue::from_str(&format!("{mount}{to}")) {
                response.headers_mut().insert(LOCATION, location);
            }
            Ok(response)
        }
        Some(u) if !u.is_admin => Ok(text_response(
            StatusCode::FORBIDDEN,
            "text/html; charset=utf-8",
            format!(
                "<!doctype html><title>Forbidden</title><h1>403 Forbidden</h1><p>The admin panel is for admins only. <a href=\"{}\">Back to the chat</a></p>\n",
                escape(if mount.is_empty() { "/" } else { &mount })
            ),
        )),
        Some(_) => page_html(ctx, "admin.html"),
    }
}

/// A page of the UI with its `<base href>` set to the chat's mount, so that its relative URLs
/// (files, API, WebSocket, links) work wherever the app mounts the chat, and the
/// `chat-accounts` meta telling the page whether the chat's own accounts are on.
fn page_html(ctx: &Ctx<'_>, name: &str) -> Result<Response<Bytes>, ApiError> {
    let chat = ctx.chat;
    let (bytes, kind) = asset(name).ok_or_else(ApiError::not_found)?;
    let html = String::from_utf8_lossy(bytes)
        .replacen(
            BASE_PLACEHOLDER,
            &format!("<base href=\"{}/\">", escape(&ctx.mount())),
            1,
        )
        .replacen(
            ACCOUNTS_PLACEHOLDER,
            if chat.own_accounts() {
                ACCOUNTS_PLACEHOLDER
            } else {
                "<meta name=\"chat-accounts\" content=\"host\">"
            },
            1,
        );
    Ok(text_response(StatusCode::OK, kind, html))
}

/// The `<base>` element the pages are written with, replaced at serving time.
const BASE_PLACEHOLDER: &str = "<base href=\"/\">";

/// The accounts meta the pages are written with (own accounts), replaced for the host's users.
const ACCOUNTS_PLACEHOLDER: &str = "<meta name=\"chat-accounts\" content=\"own\">";

/// `text` safe inside an HTML attribute value or text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    /// Every relative import of an embedded module (`from './x.js'`, `from '../x.js'`)
    /// names an embedded file, resolved against the importing module's directory as a
    /// browser does (a new file of the client SDK must be added to `ASSETS`).
    #[test]
    fn module_imports_resolve() {
        for (name, bytes, _) in ASSETS.iter().filter(|(n, _, _)| n.ends_with(".js")) {
            let text = std::str::from_utf8(bytes).unwrap();
            for part in text.split("from '").skip(1) {
                let target = &part[..part.find('\'').unwrap()];
                let mut dir: Vec<&str> = name.split('/').collect();
                dir.pop();
                for segment in target.split('/') {
                    match segment {
                        "." => {}
                        ".." => {
                            assert!(dir.pop().is_some(), "{name} imports {target} outside");
                        }
                        file => dir.push(file),
                    }
                }
                let resolved = dir.join("/");
                assert!(
                    ASSETS.iter().any(|(n, _, _)| *n == resolved),
                    "{name} imports {target} ({resolved}), which is not embedded"
                );
            }
        }
    }

    #[test]
    fn names_are_unique_and_plain() {
        for (i, (name, _, _)) in ASSETS.iter().enumerate() {
            assert!(
                name.split('/')
                    .all(|s| !s.is_empty() && s != "." && s != ".."),
                "{name}: plain path segments only"
            );
            assert!(
                ASSETS[i + 1..].iter().all(|(n, _, _)| n != name),
                "{name} twice"
            );
        }
    }
}
