//! Reading a request body for [`ChatHttp::handle`]: the one place where the body size limit
//! (`HttpConfig::max_body_bytes`) is enforced. Adapters hand over the framework's body as a
//! stream of chunks; a declared `Content-Length` above the limit is refused before anything is
//! read, and reading stops as soon as the limit is passed, so a large body never sits in memory.

use crate::ChatHttp;
use crate::error::ApiError;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::{Stream, TryStreamExt};
use http::HeaderMap;
use std::fmt::Display;

impl ChatHttp {
    /// Collects a request body of at most `max_body_bytes`: 413 `payload_too_large` when its
    /// declared `Content-Length` or the bytes read pass the limit, 400 `bad_body` when reading
    /// fails.
    pub async fn read_body<S, B, E>(
        &self,
        headers: &HeaderMap,
        mut body: S,
    ) -> Result<Bytes, ApiError>
    where
        S: Stream<Item = Result<B, E>> + Unpin,
        B: Buf,
        E: Display,
    {
        let limit = self.config().max_body_bytes;
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit as u64) {
            return Err(ApiError::payload_too_large(limit));
        }
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.try_next().await.map_err(|e| {
            ApiError::bad_request("bad_body", format!("reading the body failed: {e}"))
        })? {
            if buf.len() + chunk.remaining() > limit {
                return Err(ApiError::payload_too_large(limit));
            }
            buf.put(chunk);
        }
        Ok(buf.freeze())
    }
}

#[cfg(test)]
mod tests {
    use crate::{ApiError, ChatHttp, HttpConfig};
    use bytes::Bytes;
    use http::{HeaderMap, HeaderValue};
    use std::sync::Arc;

    fn chat(limit: usize) -> ChatHttp {
        let service = chat_core::ChatService::new(
            Arc::new(chat_store_memory::MemoryStore::new()),
            Arc::new(chat_core::LocalBroker::default()),
            chat_core::Config::default(),
        );
        ChatHttp::new(
            service,
            HttpConfig {
                max_body_bytes: limit,
                ..HttpConfig::default()
            },
        )
    }

    fn chunks(
        parts: &[&'static str],
    ) -> impl futures::Stream<Item = Result<Bytes, String>> + Unpin {
        futures::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        )
    }

    fn status(result: Result<Bytes, ApiError>) -> u16 {
        match result {
            Ok(_) => 200,
            Err(e) => e.status.as_u16(),
        }
    }

    #[tokio::test]
    async fn a_body_up_to_the_limit_is_read_whole() {
        let body = chat(8)
            .read_body(&HeaderMap::new(), chunks(&["abc", "defgh"]))
            .await;
        assert_eq!(body.ok(), Some(Bytes::from_static(b"abcdefgh")));
    }

    #[tokio::test]
    async fn an_undeclared_body_past_the_limit_is_refused() {
        let body = chat(8)
            .read_body(&HeaderMap::new(), chunks(&["abcd", "efgh", "i"]))
            .await;
        assert_eq!(status(body), 413);
    }

    #[tokio::test]
    async fn a_declared_length_past_the_limit_is_refused_before_reading() {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from_static("9"));
        // A stream that fails when read: the refusal must come first.
        let failing = futures::stream::iter(vec![Err::<Bytes, _>("reset")]);
        assert_eq!(status(chat(8).read_body(&headers, failing).await), 413);
        let failing = futures::stream::iter(vec![Err::<Bytes, _>("reset")]);
        assert_eq!(
            status(chat(8).read_body(&HeaderMap::new(), failing).await),
            400
        );
    }
}
