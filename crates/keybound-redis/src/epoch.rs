//! Epochs and fences: how the store notices that the server forgot `jti`s and fails closed
//! for one acceptance window (RFC 9449 §11.1: an entry must outlive the proof's window).
//!
//! Each hash tag has an epoch key without TTL whose value is `<32 hex random>.<fence ms>`.
//! Every instance learns the value at start-up and sends it with each check; the script
//! compares it before inserting. A server that lost its data no longer has the key (or has
//! another value), so the loss is seen in the same round trip as the insert.
//!
//! `<fence ms>` (Unix milliseconds) is the end of the fence the writer of the value chose:
//! no `jti` forgotten by the loss that led to this value can outlive it. An instance that
//! meets a new value adopts it and fails closed until that time.

use std::sync::{Arc, Mutex};

use crate::key::{TAGS, hex};

/// An epoch value as stored in Redis.
pub(crate) type Epoch = Arc<[u8]>;

/// A new random epoch value whose fence ends at `fence_until_ms`.
pub(crate) fn new_epoch(fence_until_ms: u64) -> Epoch {
    let mut r = [0u8; 16];
    crate::rng::fill(&mut r);
    format!("{}.{fence_until_ms}", hex(&r)).into_bytes().into()
}

/// The fence end written in an epoch value, `None` when it is not one of ours.
pub(crate) fn fence_of(epoch: &[u8]) -> Option<u64> {
    let s = core::str::from_utf8(epoch).ok()?;
    let (random, fence) = s.rsplit_once('.')?;
    if random.len() != 32 || !random.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    fence.parse().ok()
}

/// What one instance knows about one tag.
#[derive(Clone, Debug)]
pub(crate) struct TagState {
    /// The epoch value this instance sends with checks on this tag.
    pub(crate) epoch: Epoch,
    /// Fail closed on this tag until this Unix millisecond.
    pub(crate) fence_until_ms: u64,
    /// `epoch` is known to be stored in Redis (false after a write that failed).
    pub(crate) established: bool,
}

/// Per-tag states, each behind its own lock (held only to copy or replace a state).
pub(crate) struct Tags {
    states: Box<[Mutex<TagState>]>,
}

impl Tags {
    /// States from the start-up read of every tag's epoch.
    pub(crate) fn new(states: Vec<TagState>) -> Self {
        Self {
            states: states.into_iter().map(Mutex::new).collect(),
        }
    }

    /// A copy of `tag`'s state; `None` for a tag out of range or a poisoned lock (the
    /// caller fails closed).
    pub(crate) fn get(&self, tag: usize) -> Option<TagState> {
        self.states.get(tag)?.lock().ok().map(|s| s.clone())
    }

    /// Applies `f` to `tag`'s state.
    pub(crate) fn update(&self, tag: usize, f: impl FnOnce(&mut TagState)) {
        if let Some(mut s) = self.states.get(tag).and_then(|m| m.lock().ok()) {
            f(&mut s);
        }
    }

    /// Tags fenced at `now_ms` and the latest fence end among them.
    pub(crate) fn fenced(&self, now_ms: u64) -> (usize, u64) {
        let mut n = 0;
        let mut until = 0;
        for s in self.states.iter() {
            match s.lock() {
                Ok(s) if s.fence_until_ms > now_ms || !s.established => {
                    n += 1;
                    until = until.max(s.fence_until_ms);
                }
                Ok(_) => {}
                Err(_) => n += 1,
            }
        }
        (n, until)
    }

    /// Number of tags.
    pub(crate) fn len(&self) -> usize {
        self.states.len()
    }
}

/// All tags, for the fences that cover a whole server.
pub(crate) fn all_tags() -> Vec<usize> {
    (0..TAGS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_values_carry_their_fence() {
        let e = new_epoch(1_700_000_000_123);
        assert_eq!(e.len(), 32 + 1 + 13);
        assert_eq!(fence_of(&e), Some(1_700_000_000_123));
        assert_ne!(new_epoch(5), new_epoch(5));
    }

    #[test]
    fn foreign_epoch_values_have_no_fence() {
        for v in [
            &b""[..],
            b"abc",
            b"0123456789abcdef0123456789abcdef",
            b"0123456789abcdef0123456789abcdeX.5",
            b"0123456789abcdef0123456789abcdef.x",
            b"0123456789abcdef0123456789abcdef.-1",
            b"\xff\xfe.1",
        ] {
            assert_eq!(fence_of(v), None, "{v:?}");
        }
    }
}
