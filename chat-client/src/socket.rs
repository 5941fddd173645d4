//! Opening one WebSocket: the URL with its options (`batch=1`, `?token=`), the handshake
//! headers (the credential, the app's extra ones such as `Origin`), and the wait for `hello`,
//! all bounded by the connect timeout. A refused handshake keeps its HTTP status, which the
//! reconnect policy reads.

use crate::auth::Credential;
use crate::error::ClientError;
use chat_protocol::{ServerFrame, UserView, split_batch};
use futures::StreamExt;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The socket type.
pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Characters kept as they are in a query value.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An open socket after `hello`.
pub(crate) struct Opened {
    pub(crate) ws: Ws,
    pub(crate) user: UserView<'static>,
    /// Frames that came in the same text frame as `hello` (batching), in order.
    pub(crate) rest: Vec<ServerFrame<'static>>,
}

/// Why a socket could not be opened.
#[derive(Debug)]
pub(crate) enum DialError {
    /// The server answered the handshake with this status.
    Refused(u16, String),
    /// Anything else: no connection, a timeout, no `hello`.
    Failed(ClientError),
}

/// `url` with the connection's query options.
pub(crate) fn socket_url(url: &str, batch: bool, token: Option<&str>) -> String {
    let mut params = Vec::new();
    if batch {
        params.push("batch=1".to_owned());
    }
    if let Some(token) = token {
        params.push(format!("token={}", utf8_percent_encode(token, QUERY_VALUE)));
    }
    if params.is_empty() {
        return url.to_owned();
    }
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", params.join("&"))
}

/// Opens a socket and waits for `hello`, all within `timeout`.
pub(crate) async fn dial(
    url: &str,
    credential: &Credential,
    headers: &[(String, String)],
    batch: bool,
    timeout: Duration,
) -> Result<Opened, DialError> {
    let token = match credential {
        Credential::QueryToken(token) => Some(token.as_str()),
        _ => None,
    };
    let mut request = socket_url(url, batch, token)
        .into_client_request()
        .map_err(|e| DialError::Failed(ClientError::BadRequest(e.to_string())))?;
    let mut extra: Vec<(String, String)> = headers.to_vec();
    match credential {
        Credential::Bearer(token) => {
            extra.push(("authorization".into(), format!("Bearer {token}")))
        }
        Credential::Cookie(cookie) => extra.push(("cookie".into(), cookie.clone())),
        Credential::QueryToken(_) | Credential::None => {}
    }
    for (name, value) in extra {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| DialError::Failed(ClientError::BadRequest(e.to_string())))?;
        let value = http::HeaderValue::from_str(&value)
            .map_err(|e| DialError::Failed(ClientError::BadRequest(e.to_string())))?;
        request.headers_mut().insert(name, value);
    }
    let open = async {
        // TCP_NODELAY: small frames go out at once.
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .map_err(refused_or_failed)?;
        let first = loop {
            match ws.next().await {
                Some(Ok(Message::Text(text))) => break text,
                Some(Ok(Message::Close(frame))) => {
                    let why = frame.map(|f| format!("{} {}", u16::from(f.code), f.reason));
                    return Err(failed(format!("closed before hello: {why:?}")));
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(failed(e.to_string())),
                None => return Err(failed("closed before hello".into())),
            }
        };
        let mut frames = Vec::new();
        for line in split_batch(first.as_str()) {
            if let Some(frame) = ServerFrame::parse(line).map_err(|e| failed(e.to_string()))? {
                frames.push(frame);
            }
        }
        let mut frames = frames.into_iter();
        match frames.next() {
            Some(ServerFrame::Hello { user, .. }) => Ok(Opened {
                ws,
                user: user.into_owned(),
                rest: frames.collect(),
            }),
            other => Err(failed(format!("expected hello, got {other:?}"))),
        }
    };
    match tokio::time::timeout(timeout, open).await {
        Ok(result) => result,
        Err(_) => Err(failed("no hello in time".into())),
    }
}

fn failed(message: String) -> DialError {
    DialError::Failed(ClientError::Connection(message))
}

fn refused_or_failed(e: tungstenite::Error) -> DialError {
    match e {
        tungstenite::Error::Http(response) => {
            let body = response
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            DialError::Refused(response.status().as_u16(), body)
        }
        other => failed(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_go_in_the_query() {
        assert_eq!(socket_url("ws://h/ws", false, None), "ws://h/ws");
        assert_eq!(socket_url("ws://h/ws", true, None), "ws://h/ws?batch=1");
        assert_eq!(
            socket_url("ws://h/ws?x=1", true, Some("a.b+c")),
            "ws://h/ws?x=1&batch=1&token=a.b%2Bc"
        );
    }
}
