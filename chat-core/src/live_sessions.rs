//! Live sessions: long-lived consumers opened with a session (WebSockets) register here, so
//! that ending the session (log out, log out everywhere, password change, deactivation) reaches
//! them at once rather than at their next periodic check.
//!
//! One map per service, keyed by user; an entry is a callback, called once, outside the lock.
//! Expiry is not tracked here: a consumer knows its session's `expires_at` and keeps its own
//! deadline.

use crate::{TokenHash, UserId};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a live session tells when it ends: a socket's close signal, or any closure. Called
/// at most once per registration.
pub trait SessionEnd: Send + Sync + 'static {
    /// The session ended.
    fn end(&self);
}

impl<F: Fn() + Send + Sync + 'static> SessionEnd for F {
    fn end(&self) {
        self()
    }
}

struct Entry {
    id: u64,
    /// The session's [`fingerprint`]: every open socket has an entry, so it is kept small.
    token: Option<u64>,
    on_end: Arc<dyn SessionEnd>,
}

/// The first 64 bits of a token hash. Two sessions of one user sharing them would only mean
/// that ending one also closes the other's sockets (odds about 2^-64).
fn fingerprint(token: &TokenHash) -> u64 {
    token
        .0
        .get(..16)
        .and_then(|hex| u64::from_str_radix(hex, 16).ok())
        .unwrap_or(0)
}

/// The registry of consumers to tell when a session ends.
#[derive(Default)]
pub struct LiveSessions {
    users: Mutex<HashMap<UserId, Vec<Entry>>>,
    next_id: AtomicU64,
}

impl fmt::Debug for LiveSessions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSessions")
            .field("users", &self.lock().len())
            .finish()
    }
}

/// Which of a user's live sessions to end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Every one.
    All,
    /// Those opened with this session.
    Only(TokenHash),
    /// All but those opened with this session.
    AllBut(TokenHash),
}

impl LiveSessions {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Vec<Entry>>> {
        // Every update completes under the lock: a poisoned map is still consistent.
        self.users.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers `on_end`, called once when the session `token` of `user` ends (or, without a
    /// token, when all of the user's sessions end). Dropping the guard unregisters it.
    pub fn watch(
        self: &Arc<Self>,
        user: UserId,
        token: Option<TokenHash>,
        on_end: Arc<dyn SessionEnd>,
    ) -> SessionGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().entry(user).or_default().push(Entry {
            id,
            token: token.as_ref().map(fingerprint),
            on_end,
        });
        SessionGuard {
            registry: Arc::clone(self),
            user,
            id,
        }
    }

    /// Ends the chosen live sessions of `user`: their callbacks run (on this thread) and they
    /// are unregistered. Returns how many ended.
    pub fn end(&self, user: UserId, which: &Ending) -> usize {
        let ended: Vec<Entry> = {
            let mut users = self.lock();
            let Some(entries) = users.get_mut(&user) else {
                return 0;
            };
            let (ended, kept): (Vec<Entry>, Vec<Entry>) = std::mem::take(entries)
                .into_iter()
                .partition(|e| match (which, e.token) {
                    (Ending::All, _) => true,
                    (Ending::Only(t), Some(own)) => own == fingerprint(t),
                    (Ending::AllBut(t), Some(own)) => own != fingerprint(t),
                    // Registered without a token: ends only with all of the user's sessions.
                    (Ending::Only(_) | Ending::AllBut(_), None) => false,
                });
            if kept.is_empty() {
                users.remove(&user);
            } else {
                *entries = kept;
            }
            ended
        };
        let n = ended.len();
        for entry in ended {
            entry.on_end.end();
        }
        n
    }

    /// How many live sessions are registered (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().values().map(Vec::len).sum()
    }

    /// Whether none is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn forget(&self, user: UserId, id: u64) {
        let mut users = self.lock();
        if let Some(entries) = users.get_mut(&user) {
            entries.retain(|e| e.id != id);
            if entries.is_empty() {
                users.remove(&user);
            }
        }
    }
}

/// Keeps a live session registered; dropping it unregisters it without calling it.
pub struct SessionGuard {
    registry: Arc<LiveSessions>,
    user: UserId,
    id: u64,
}

impl fmt::Debug for SessionGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionGuard")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.registry.forget(self.user, self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn counter() -> (Arc<AtomicUsize>, impl Fn() -> Arc<dyn SessionEnd>) {
        let n = Arc::new(AtomicUsize::new(0));
        let m = Arc::clone(&n);
        (n, move || {
            let m = Arc::clone(&m);
            Arc::new(move || {
                m.fetch_add(1, Ordering::SeqCst);
            })
        })
    }

    #[test]
    fn ends_by_token_user_or_all_but_one() {
        let live = Arc::new(LiveSessions::default());
        let (a, b) = (TokenHash("a".repeat(64)), TokenHash("b".repeat(64)));
        let (ended, on_end) = counter();
        let _g1 = live.watch(UserId(1), Some(a.clone()), on_end());
        let _g2 = live.watch(UserId(1), Some(b.clone()), on_end());
        let _g3 = live.watch(UserId(1), None, on_end());
        let _g4 = live.watch(UserId(2), Some(a.clone()), on_end());
        assert_eq!(live.end(UserId(1), &Ending::Only(a.clone())), 1);
        assert_eq!(
            live.end(UserId(1), &Ending::Only(a.clone())),
            0,
            "once only"
        );
        assert_eq!(live.end(UserId(1), &Ending::AllBut(b.clone())), 0);
        assert_eq!(live.end(UserId(1), &Ending::All), 2);
        assert_eq!(ended.load(Ordering::SeqCst), 3);
        assert_eq!(live.len(), 1, "the other user's session lives on");
    }

    #[test]
    fn dropping_the_guard_unregisters() {
        let live = Arc::new(LiveSessions::default());
        let (ended, on_end) = counter();
        let guard = live.watch(UserId(1), None, on_end());
        assert_eq!(live.len(), 1);
        drop(guard);
        assert!(live.is_empty());
        assert_eq!(live.end(UserId(1), &Ending::All), 0);
        assert_eq!(ended.load(Ordering::SeqCst), 0);
    }
}
