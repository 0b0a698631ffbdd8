//! keybound's size and allocation budgets (not published).
//!
//! - **Code size**: `cargo xtask size` builds this crate as a `staticlib` for
//!   `thumbv7em-none-eabihf` (opt-level `z`, LTO, `panic = "abort"`, one codegen unit) with
//!   `--cfg size_check`, which adds a panic handler and a small allocator, and reports the
//!   `.text` + `.rodata` of the ES256-only DPoP verifier behind [`keybound_dpop_check_es256`].
//! - **Allocations**: `tests/allocations.rs` counts heap allocations per thumbprint and per
//!   full validation under a counting global allocator and asserts the budgets.
//!
//! The entry point is the whole of RFC 9449 §4.3 but replay (the caller records the `jti`):
//! [`keybound_dpop::check_proof`] with the RustCrypto P-256 verifier and an ES256-only policy.
#![no_std]

extern crate alloc;

use keybound_dpop::{AlgSet, Algorithm, Policy, Reason, Request, RustCryptoVerifier};

/// The ES256-only policy of the embedded verifier: RFC 9449 defaults otherwise.
const POLICY: Policy<'static> = Policy::new().with_algs(AlgSet::EMPTY.with(Algorithm::Es256));

/// Outcome codes of [`keybound_dpop_check_es256`]: 0 is success, 1–13 name the
/// [`Reason`] in declaration order, [`CODE_BAD_ARGUMENT`] is a null pointer or non-UTF-8 text.
pub const CODE_OK: i32 = 0;
/// A null pointer or a non-UTF-8 string argument.
pub const CODE_BAD_ARGUMENT: i32 = -1;

/// The stable numeric code of a rejection reason (for the C entry point).
pub fn reason_code(reason: Reason) -> i32 {
    match reason {
        Reason::Malformed => 1,
        Reason::Typ => 2,
        Reason::Alg => 3,
        Reason::Jwk => 4,
        Reason::Signature => 5,
        Reason::Jti => 6,
        Reason::Htm => 7,
        Reason::Htu => 8,
        Reason::Iat => 9,
        Reason::Ath => 10,
        Reason::Nonce => 11,
        Reason::Replay => 12,
        Reason::KeyBinding => 13,
        _ => 99,
    }
}

/// Checks an ES256 DPoP proof (RFC 9449 §4.3 steps 1–10) and returns the RFC 7638 thumbprint
/// of its key; the caller commits the `jti` to its replay store.
pub fn check_es256(
    proof: &str,
    htm: &str,
    htu: &str,
    access_token: Option<&str>,
    now: u64,
) -> Result<[u8; 32], Reason> {
    let mut request = Request::new(htm, htu);
    if let Some(token) = access_token {
        request = request.with_access_token(token);
    }
    keybound_dpop::check_proof(proof, &request, &POLICY, &RustCryptoVerifier, now)
        .map(|checked| *checked.jkt().as_bytes())
        .map_err(|e| e.reason())
}

/// C entry point of the embedded ES256 verifier: checks `proof` against the request method
/// `htm` and URI `htu` (and the access token when `access_token_len` is not 0) at Unix time
/// `now`, writes the proof key's thumbprint to `jkt_out` (32 bytes) on success and returns
/// [`CODE_OK`], a [`reason_code`] or [`CODE_BAD_ARGUMENT`].
///
/// # Safety
///
/// Each pointer with a non-zero length must be valid for reads of that many bytes, and
/// `jkt_out` valid for writes of 32 bytes, for the duration of the call.
#[expect(
    unsafe_code,
    reason = "C ABI entry point: exported name and raw pointers"
)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keybound_dpop_check_es256(
    proof: *const u8,
    proof_len: usize,
    htm: *const u8,
    htm_len: usize,
    htu: *const u8,
    htu_len: usize,
    access_token: *const u8,
    access_token_len: usize,
    now: u64,
    jkt_out: *mut u8,
) -> i32 {
    /// # Safety: as for the entry point.
    unsafe fn text<'a>(ptr: *const u8, len: usize) -> Option<&'a str> {
        if ptr.is_null() {
            return None;
        }
        // SAFETY: the caller guarantees `ptr` is readable for `len` bytes during the call.
        let bytes = unsafe { core::slice::from_raw_parts(ptr, len) };
        core::str::from_utf8(bytes).ok()
    }
    // SAFETY: forwarded from this function's contract.
    let args = unsafe {
        (
            text(proof, proof_len),
            text(htm, htm_len),
            text(htu, htu_len),
            if access_token_len == 0 {
                Some(None)
            } else {
                text(access_token, access_token_len).map(Some)
            },
        )
    };
    let (Some(proof), Some(htm), Some(htu), Some(token)) = args else {
        return CODE_BAD_ARGUMENT;
    };
    if jkt_out.is_null() {
        return CODE_BAD_ARGUMENT;
    }
    match check_es256(proof, htm, htu, token, now) {
        Ok(jkt) => {
            // SAFETY: the caller guarantees `jkt_out` is writable for 32 bytes.
            unsafe { core::ptr::copy_nonoverlapping(jkt.as_ptr(), jkt_out, jkt.len()) };
            CODE_OK
        }
        Err(reason) => reason_code(reason),
    }
}

/// What only the bare-metal artifact needs: a panic handler and a global allocator.
#[cfg(size_check)]
mod bare_metal {
    use core::alloc::{GlobalAlloc, Layout};
    use core::cell::UnsafeCell;
    use core::sync::atomic::{AtomicUsize, Ordering};

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        loop {
            core::hint::spin_loop();
        }
    }

    /// Arena size: one validation needs well under 1 KiB of heap (see tests/allocations.rs).
    const ARENA: usize = 8 * 1024;

    /// A bump arena that starts over when every block has been freed — enough for a
    /// validation, which frees all it allocates before returning. Single-threaded firmware.
    struct Arena {
        memory: UnsafeCell<[u8; ARENA]>,
        next: AtomicUsize,
        live: AtomicUsize,
    }

    #[expect(
        unsafe_code,
        reason = "the arena hands out disjoint blocks; one thread"
    )]
    unsafe impl Sync for Arena {}

    #[expect(unsafe_code, reason = "GlobalAlloc is an unsafe trait")]
    unsafe impl GlobalAlloc for Arena {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let base = self.memory.get().cast::<u8>();
            let start = self.next.load(Ordering::Relaxed);
            let addr = (base as usize).wrapping_add(start);
            let pad = addr.wrapping_neg() & (layout.align() - 1);
            let Some(end) = start
                .checked_add(pad)
                .and_then(|s| s.checked_add(layout.size()))
                .filter(|e| *e <= ARENA)
            else {
                return core::ptr::null_mut();
            };
            self.next.store(end, Ordering::Relaxed);
            self.live.fetch_add(1, Ordering::Relaxed);
            // SAFETY: `start + pad + size <= ARENA`, so the block lies inside the arena.
            unsafe { base.add(start + pad) }
        }

        unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {
            if self.live.fetch_sub(1, Ordering::Relaxed) == 1 {
                self.next.store(0, Ordering::Relaxed);
            }
        }
    }

    #[global_allocator]
    static HEAP: Arena = Arena {
        memory: UnsafeCell::new([0; ARENA]),
        next: AtomicUsize::new(0),
        live: AtomicUsize::new(0),
    };
}
