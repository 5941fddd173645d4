//! Every bound on what one client can make the server spend, in one place: token buckets per
//! user, per username and per client address ([`rate`]), and caps on open sockets per user and
//! per address ([`sockets`]). `Limiters` holds the process's instances, built from
//! [`HttpConfig`].

pub mod rate;
pub mod sockets;

use crate::ClientKey;
use crate::config::HttpConfig;
use chat_core::UserId;
use rate::KeyedLimiter;
use sockets::SocketCaps;
use std::sync::Arc;

/// The limiters of one [`ChatHttp`](crate::ChatHttp).
#[derive(Debug)]
pub(crate) struct Limiters {
    /// Per user: `send`, `edit`, `delete` and `history` frames, REST edits and deletes.
    pub(crate) actions: KeyedLimiter<UserId>,
    /// Per username: log-in attempts.
    pub(crate) logins: KeyedLimiter<String>,
    /// Per client address: log-in attempts.
    pub(crate) address_logins: KeyedLimiter<ClientKey>,
    /// Per client address: sign ups.
    pub(crate) signups: KeyedLimiter<ClientKey>,
    /// Per client address: room creation.
    pub(crate) room_creations: KeyedLimiter<ClientKey>,
    /// Per client address: searches.
    pub(crate) searches: KeyedLimiter<ClientKey>,
    /// Per client address: WebSocket handshakes.
    pub(crate) handshakes: KeyedLimiter<ClientKey>,
    /// Open sockets per user and per address.
    pub(crate) sockets: Arc<SocketCaps>,
}

impl Limiters {
    pub(crate) fn new(config: &HttpConfig) -> Limiters {
        let a = &config.address_limits;
        Limiters {
            actions: KeyedLimiter::new(config.rate_limit),
            logins: KeyedLimiter::new(config.login_rate_limit),
            address_logins: KeyedLimiter::new(a.login),
            signups: KeyedLimiter::new(a.signup),
            room_creations: KeyedLimiter::new(a.create_room),
            searches: KeyedLimiter::new(a.search),
            handshakes: KeyedLimiter::new(a.handshake),
            sockets: Arc::new(SocketCaps::new(
                config.max_sockets_per_user,
                config.max_sockets_per_address,
            )),
        }
    }
}
