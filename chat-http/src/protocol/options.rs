//! What a client may choose for its connection, in the query string of `GET /ws`. Read by the
//! adapters before the upgrade, so a bad option is refused with a 400 and a JSON body instead
//! of a socket that behaves differently than asked.

use crate::error::ApiError;

/// Per-connection options of the WebSocket protocol.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketOptions {
    /// `batch=1`: the frames the server has ready at once may come as one text frame, one JSON
    /// object per line (see [`super::batch`]). Off by default.
    pub batch: bool,
}

impl SocketOptions {
    /// Options with batching switched on or off.
    pub fn with_batch(mut self, batch: bool) -> SocketOptions {
        self.batch = batch;
        self
    }

    /// Reads the options from the query string of `GET /ws` (without the `?`). Unknown
    /// parameters are ignored, like unknown fields; a known one with a bad value is a 400
    /// `bad_query`.
    pub fn from_query(query: Option<&str>) -> Result<SocketOptions, ApiError> {
        let mut options = SocketOptions::default();
        let Some(query) = query else {
            return Ok(options);
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|e| ApiError::bad_request("bad_query", format!("bad query string: {e}")))?;
        for (name, value) in pairs {
            if name == "batch" {
                options.batch = match value.as_str() {
                    "1" | "true" => true,
                    "0" | "false" => false,
                    _ => {
                        return Err(ApiError::bad_request(
                            "bad_query",
                            "batch must be 1, true, 0 or false",
                        ));
                    }
                };
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batching_is_off_unless_asked_for() {
        assert!(!SocketOptions::from_query(None).unwrap().batch);
        assert!(!SocketOptions::from_query(Some("")).unwrap().batch);
        assert!(!SocketOptions::from_query(Some("other=1")).unwrap().batch);
        assert!(!SocketOptions::from_query(Some("batch=0")).unwrap().batch);
        assert!(SocketOptions::from_query(Some("batch=1")).unwrap().batch);
        assert!(
            SocketOptions::from_query(Some("x=y&batch=true"))
                .unwrap()
                .batch
        );
    }

    #[test]
    fn a_bad_value_is_a_bad_query() {
        let e = SocketOptions::from_query(Some("batch=yes")).unwrap_err();
        assert_eq!(e.status, http::StatusCode::BAD_REQUEST);
        assert_eq!(e.code, "bad_query");
    }
}
