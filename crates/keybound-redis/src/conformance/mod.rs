//! A store-conformance kit (RFC 9449 §11.1): checks any [`AsyncReplayStore`] can be run
//! through — double submit, concurrent submit, the expiry boundary, capacity without
//! eviction, unavailability — and [`servers`], throwaway `redis-server` instances to run
//! them against. For tests (feature `conformance`).
//!
//! Every check returns `Ok(())` or a [`Failure`] naming the check and what the store did;
//! a store passes the kit when every check it can meaningfully run returns `Ok`. Keys use a
//! random scope per [`Kit`], so runs against a shared server never see each other's `jti`s.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use keybound_dpop::replay::MemoryReplayStore;
//! use keybound_redis::conformance::{Kit, ManualClock};
//!
//! let store = MemoryReplayStore::new(1000);
//! let clock = ManualClock::new(1_700_000_000);
//! let kit = Kit::new(&store, &clock);
//! assert_eq!(kit.double_submit().await, Ok(()));
//! assert_eq!(kit.concurrent_submit(16).await, Ok(()));
//! assert_eq!(kit.expiry_boundary(0).await, Ok(()));
//! assert_eq!(kit.capacity(2000).await.map(|accepted| accepted <= 1000), Ok(true));
//! # }
//! ```

pub mod servers;

use core::fmt;
use core::future::Future;
use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use futures_util::future::join_all;
use keybound_dpop::replay::{AsyncReplayStore, ReplayError, ReplayKey};

/// The kit's notion of time: `now` in Unix seconds, and a way to let it pass.
pub trait Clock: Send + Sync {
    /// The current time (Unix seconds), as the store's callers would pass it.
    fn now(&self) -> u64;
    /// Returns once [`Clock::now`] is at least `t`.
    fn wait_until(&self, t: u64) -> impl Future<Output = ()> + Send;
}

/// A clock that moves only when told (for in-process stores with fixed clocks).
#[derive(Debug)]
pub struct ManualClock {
    now: AtomicU64,
}

impl ManualClock {
    /// A clock reading `now`.
    pub fn new(now: u64) -> Self {
        Self {
            now: AtomicU64::new(now),
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }

    fn wait_until(&self, t: u64) -> impl Future<Output = ()> + Send {
        self.now.fetch_max(t, Ordering::SeqCst);
        core::future::ready(())
    }
}

/// The system clock; waiting sleeps (for networked stores, whose server has its own clock).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> u64 {
        crate::store::now_ms() / 1000
    }

    async fn wait_until(&self, t: u64) {
        loop {
            let now_ms = crate::store::now_ms();
            let target_ms = t.saturating_mul(1000);
            if now_ms >= target_ms {
                return;
            }
            tokio::time::sleep(Duration::from_millis(target_ms - now_ms)).await;
        }
    }
}

/// A check the store did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The check (`double_submit`, `concurrent_submit`, …).
    pub check: &'static str,
    /// What the store answered instead.
    pub detail: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.check, self.detail)
    }
}

impl core::error::Error for Failure {}

/// Something that makes a store unable to answer, then lets it recover (for
/// [`Kit::unavailability`]): kill the server and restart it, pause it, cut the network.
pub trait Outage {
    /// Makes the store unable to answer.
    fn begin(&mut self) -> impl Future<Output = ()> + Send;
    /// Repairs what [`Outage::begin`] broke.
    fn end(&mut self) -> impl Future<Output = ()> + Send;
}

/// The checks, bound to one store, one clock and a random scope.
pub struct Kit<'a, S, C> {
    store: &'a S,
    clock: &'a C,
    scope: Vec<u8>,
    window: u64,
}

impl<S, C> fmt::Debug for Kit<'_, S, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kit")
            .field("scope", &String::from_utf8_lossy(&self.scope))
            .finish_non_exhaustive()
    }
}

fn fail<T>(check: &'static str, detail: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        check,
        detail: detail.into(),
    })
}

impl<'a, S: AsyncReplayStore + Sync, C: Clock> Kit<'a, S, C> {
    /// A kit for `store` on `clock`, with a fresh random scope and entries kept 300 s.
    pub fn new(store: &'a S, clock: &'a C) -> Self {
        let mut r = [0u8; 8];
        crate::rng::fill(&mut r);
        Self {
            store,
            clock,
            scope: format!("conformance:{}", crate::key::hex(&r)).into_bytes(),
            window: 300,
        }
    }

    /// Entries live `secs` after `now` (default 300): set it to the store's acceptance
    /// window, which a store that fences after state loss is built for.
    pub fn with_window(mut self, secs: u64) -> Self {
        self.window = secs.max(1);
        self
    }

    /// The scope every key of this kit uses.
    pub fn scope(&self) -> &[u8] {
        &self.scope
    }

    async fn submit(&self, jti: &str, expires_at: u64, now: u64) -> Result<(), ReplayError> {
        let key = ReplayKey::new(&self.scope, jti);
        self.store
            .check_and_insert_async(key, expires_at, now)
            .await
    }

    /// A `jti` accepted once is refused while it lives; other scopes and `jti`s are not
    /// affected; an entry already expired is refused with `AlreadyExpired`.
    pub async fn double_submit(&self) -> Result<(), Failure> {
        const C: &str = "double_submit";
        let now = self.clock.now();
        let exp = now + self.window;
        let r = self.submit("double-1", exp, now).await;
        if r != Ok(()) {
            return fail(C, format!("first submit answered {r:?}"));
        }
        for _ in 0..3 {
            let r = self.submit("double-1", exp, now).await;
            if r != Err(ReplayError::Replayed) {
                return fail(C, format!("second submit answered {r:?}, not Replayed"));
            }
        }
        let r = self.submit("double-2", exp, now).await;
        if r != Ok(()) {
            return fail(C, format!("another jti answered {r:?}"));
        }
        let other_scope = [self.scope.as_slice(), b"/other"].concat();
        let key = ReplayKey::new(&other_scope, "double-1");
        let r = self.store.check_and_insert_async(key, exp, now).await;
        if r != Ok(()) {
            return fail(C, format!("the same jti in another scope answered {r:?}"));
        }
        let r = self.submit("double-3", now.saturating_sub(1), now).await;
        if r != Err(ReplayError::AlreadyExpired) {
            return fail(
                C,
                format!("an expired entry answered {r:?}, not AlreadyExpired"),
            );
        }
        Ok(())
    }

    /// `n` submits of one key at once: exactly one is accepted, every other is `Replayed`;
    /// repeated over 20 keys.
    pub async fn concurrent_submit(&self, n: usize) -> Result<(), Failure> {
        const C: &str = "concurrent_submit";
        let now = self.clock.now();
        for round in 0..20 {
            let jti = format!("concurrent-{round}");
            let results = join_all((0..n).map(|_| self.submit(&jti, now + self.window, now))).await;
            let ok = results.iter().filter(|r| r.is_ok()).count();
            let replayed = results
                .iter()
                .filter(|r| **r == Err(ReplayError::Replayed))
                .count();
            if ok != 1 || replayed != n - 1 {
                return fail(
                    C,
                    format!(
                        "round {round}: {ok} accepted, {replayed} replayed of {n}: {results:?}"
                    ),
                );
            }
        }
        Ok(())
    }

    /// An entry with `expires_at = T` is refused through `T` (inclusive) and accepted again
    /// once `T + 1 + slack` has come (`slack`: how late the store may forget, e.g. 1 s for a
    /// server that counts the TTL from its own receipt of the request).
    pub async fn expiry_boundary(&self, slack: u64) -> Result<(), Failure> {
        const C: &str = "expiry_boundary";
        let t0 = self.clock.now();
        let exp = t0 + 1;
        let r = self.submit("expiry", exp, t0).await;
        if r != Ok(()) {
            return fail(C, format!("first submit answered {r:?}"));
        }
        self.clock.wait_until(exp).await;
        let now = self.clock.now();
        if now == exp {
            let r = self.submit("expiry", exp + self.window, now).await;
            if r != Err(ReplayError::Replayed) {
                return fail(
                    C,
                    format!("at expires_at the entry answered {r:?}, not Replayed"),
                );
            }
        }
        self.clock.wait_until(exp + 1 + slack).await;
        let now = self.clock.now();
        let r = self.submit("expiry", now + self.window, now).await;
        if r != Ok(()) {
            return fail(
                C,
                format!("{} s after expires_at the entry answered {r:?}", now - exp),
            );
        }
        Ok(())
    }

    /// Fills the store with distinct keys until it refuses one (at most `max` tries): the
    /// refusal is `Full`, every later new key is refused too, and every key it accepted is
    /// still refused as a replay — nothing was evicted. Returns how many it accepted.
    pub async fn capacity(&self, max: usize) -> Result<usize, Failure> {
        const C: &str = "capacity";
        let now = self.clock.now();
        let exp = now + self.window;
        let mut accepted = 0usize;
        let mut full = false;
        let batch = 64;
        'fill: while accepted < max {
            let start = accepted;
            let results = join_all(
                (start..(start + batch).min(max))
                    .map(|i| async move { (i, self.submit(&format!("cap-{i}"), exp, now).await) }),
            )
            .await;
            for (i, r) in results {
                match r {
                    Ok(()) if !full => accepted = accepted.max(i + 1),
                    Ok(()) => return fail(C, format!("key {i} accepted after the store was full")),
                    Err(ReplayError::Full) => full = true,
                    Err(e) => return fail(C, format!("key {i} answered {e:?}, not Full")),
                }
            }
            if full {
                break 'fill;
            }
        }
        if !full {
            return fail(
                C,
                format!("{max} distinct keys accepted without the store filling"),
            );
        }
        for i in 0..5 {
            let r = self.submit(&format!("cap-after-{i}"), exp, now).await;
            if r != Err(ReplayError::Full) {
                return fail(C, format!("a new key after full answered {r:?}, not Full"));
            }
        }
        let mut i = 0;
        while i < accepted {
            let end = (i + batch).min(accepted);
            let results = join_all(
                (i..end)
                    .map(|j| async move { (j, self.submit(&format!("cap-{j}"), exp, now).await) }),
            )
            .await;
            for (j, r) in results {
                if matches!(r, Ok(()) | Err(ReplayError::AlreadyExpired)) {
                    return fail(
                        C,
                        format!("accepted key {j} answered {r:?} when full: evicted"),
                    );
                }
            }
            i = end;
        }
        Ok(accepted)
    }

    /// While `now` is within the life of the key accepted before an outage, it must not be
    /// accepted again.
    async fn still_refused(&self, expires_at: u64, now: u64) -> Result<(), Failure> {
        if now > expires_at {
            return Ok(());
        }
        let r = self.submit("before-outage", now + self.window, now).await;
        if r.is_ok() {
            return fail(
                "unavailability",
                format!(
                    "a key accepted before the outage (expires_at {expires_at}) was accepted \
                     again at {now}"
                ),
            );
        }
        Ok(())
    }

    /// Runs `outage`: while it lasts every new key is refused with `Unavailable` (never
    /// accepted, never called a replay); after it ends the store accepts again within
    /// `recovery`, and a key accepted before the outage is refused for as long as it lives
    /// (through its `expires_at`), even if the outage lost it.
    pub async fn unavailability<O: Outage>(
        &self,
        outage: &mut O,
        recovery: Duration,
    ) -> Result<(), Failure> {
        const C: &str = "unavailability";
        let now = self.clock.now();
        let before_expiry = now + self.window;
        let r = self.submit("before-outage", before_expiry, now).await;
        if r != Ok(()) {
            return fail(C, format!("before the outage a key answered {r:?}"));
        }
        outage.begin().await;
        for i in 0..20 {
            let now = self.clock.now();
            let r = self
                .submit(&format!("during-{i}"), now + self.window, now)
                .await;
            if r != Err(ReplayError::Unavailable) {
                outage.end().await;
                return fail(C, format!("during the outage a new key answered {r:?}"));
            }
        }
        outage.end().await;
        let deadline = std::time::Instant::now() + recovery;
        let mut i = 0u32;
        loop {
            let now = self.clock.now();
            self.still_refused(before_expiry, now).await?;
            match self
                .submit(&format!("after-{i}"), now + self.window, now)
                .await
            {
                Ok(()) => break,
                Err(ReplayError::Unavailable) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                r => return fail(C, format!("after the outage a new key answered {r:?}")),
            }
            i += 1;
        }
        self.still_refused(before_expiry, self.clock.now()).await?;
        Ok(())
    }
}
