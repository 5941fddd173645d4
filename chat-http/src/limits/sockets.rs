//! Caps on open WebSockets per user and per client address. A socket takes a [`SocketSlot`]
//! at the handshake and gives it back when it closes (the slot is dropped with the
//! connection), so the counts never drift.

use crate::ClientKey;
use chat_core::UserId;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

/// Open sockets counted by key, with a cap (0: no cap).
#[derive(Debug)]
struct Counts<K> {
    cap: usize,
    open: Mutex<HashMap<K, usize>>,
}

impl<K: Eq + Hash + Copy> Counts<K> {
    fn new(cap: usize) -> Counts<K> {
        Counts {
            cap,
            open: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, usize>> {
        // Every update completes under the lock: a poisoned map is still consistent.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn take(&self, key: K) -> bool {
        if self.cap == 0 {
            return true;
        }
        let mut open = self.lock();
        let n = open.entry(key).or_insert(0);
        if *n >= self.cap {
            return false;
        }
        *n += 1;
        true
    }

    fn give_back(&self, key: K) {
        if self.cap == 0 {
            return;
        }
        let mut open = self.lock();
        if let Some(n) = open.get_mut(&key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&key);
            }
        }
    }
}

/// Which cap refused a socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketCap {
    /// The user has the most sockets allowed open.
    User,
    /// The client address has the most sockets allowed open.
    Address,
}

/// The per-user and per-address socket counts of a process.
#[derive(Debug)]
pub struct SocketCaps {
    users: Counts<UserId>,
    addresses: Counts<ClientKey>,
}

impl SocketCaps {
    /// Caps of `per_user` and `per_address` open sockets (0: no cap).
    pub fn new(per_user: usize, per_address: usize) -> SocketCaps {
        SocketCaps {
            users: Counts::new(per_user),
            addresses: Counts::new(per_address),
        }
    }

    /// Takes a slot for a socket of `user` from `address` (unknown: only the user cap applies).
    pub fn take(
        self: &Arc<Self>,
        user: UserId,
        address: Option<ClientKey>,
    ) -> Result<SocketSlot, SocketCap> {
        if let Some(a) = address
            && !self.addresses.take(a)
        {
            return Err(SocketCap::Address);
        }
        if !self.users.take(user) {
            if let Some(a) = address {
                self.addresses.give_back(a);
            }
            return Err(SocketCap::User);
        }
        Ok(SocketSlot {
            caps: Arc::clone(self),
            user,
            address,
        })
    }
}

/// One open socket's place under the caps; dropping it gives the place back.
#[derive(Debug)]
pub struct SocketSlot {
    caps: Arc<SocketCaps>,
    user: UserId,
    address: Option<ClientKey>,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        self.caps.users.give_back(self.user);
        if let Some(a) = self.address {
            self.caps.addresses.give_back(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_address_and_slots_give_back() {
        let caps = Arc::new(SocketCaps::new(2, 3));
        let here = Some(ClientKey::of([127, 0, 0, 1].into()));
        let there = Some(ClientKey::of([10, 0, 0, 1].into()));
        let a = caps.take(UserId(1), here).unwrap();
        let _b = caps.take(UserId(1), here).unwrap();
        assert_eq!(caps.take(UserId(1), there).unwrap_err(), SocketCap::User);
        let _c = caps.take(UserId(2), here).unwrap();
        assert_eq!(caps.take(UserId(3), here).unwrap_err(), SocketCap::Address);
        assert!(
            caps.take(UserId(3), there).is_ok(),
            "the refused address slot was given back"
        );
        drop(a);
        assert!(caps.take(UserId(1), None).is_ok());
        let unlimited = Arc::new(SocketCaps::new(0, 0));
        let slots: Vec<_> = (0..1000).map(|_| unlimited.take(UserId(1), here)).collect();
        assert!(slots.iter().all(Result::is_ok));
    }
}
