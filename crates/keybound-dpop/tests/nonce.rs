//! Server nonces (RFC 9449 §8, §9).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
#![cfg(feature = "alloc")]

use keybound_dpop::nonce::{
    FixedNonce, HmacNonceSource, MAX_NONCE_LEN, NonceError, NonceSource, is_nqchar, is_valid_nonce,
};

const SECRET: [u8; 32] = [0x42; 32];
const STEP: u64 = 60;
/// Start of time step 1000.
const T0: u64 = 1000 * STEP;

fn source() -> HmacNonceSource {
    HmacNonceSource::new(SECRET, STEP)
}

#[test]
fn nqchar_accepts_visible_ascii_except_quote_and_backslash() {
    let all: String = (0x21u8..=0x7e)
        .filter(|&c| c != b'"' && c != b'\\')
        .map(char::from)
        .collect();
    assert!(is_nqchar(&all));
    assert!(is_valid_nonce(&all));
}

#[test]
fn nqchar_rejects_quote_backslash_space_controls_and_non_ascii() {
    for bad in ["a\"b", "a\\b", "a b", "a\tb", "a\u{7f}", "é", "\u{0}"] {
        assert!(!is_nqchar(bad), "{bad:?}");
        assert!(!is_valid_nonce(bad), "{bad:?}");
    }
}

#[test]
fn empty_string_is_nqchar_but_not_a_valid_nonce() {
    assert!(is_nqchar(""));
    assert!(!is_valid_nonce(""));
}

#[test]
fn hmac_nonce_is_32_base64url_nqchars() {
    let n = source().issue(T0);
    assert_eq!(n.len(), HmacNonceSource::NONCE_LEN);
    assert!(is_valid_nonce(&n));
    assert!(
        n.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}

#[test]
fn hmac_nonce_is_accepted_within_its_step() {
    let s = source();
    let n = s.issue(T0 + 5);
    assert_eq!(s.check(&n, T0), Ok(()));
    assert_eq!(s.check(&n, T0 + STEP - 1), Ok(()));
}

#[test]
fn hmac_nonce_is_accepted_during_the_next_step() {
    let s = source();
    let n = s.issue(T0);
    assert_eq!(s.check(&n, T0 + STEP), Ok(()));
    assert_eq!(s.check(&n, T0 + 2 * STEP - 1), Ok(()));
}

#[test]
fn hmac_nonce_expires_two_steps_later() {
    let s = source();
    let n = s.issue(T0 + STEP - 1);
    assert_eq!(s.check(&n, T0 + 2 * STEP), Err(NonceError::Expired));
    assert_eq!(s.check(&n, u64::MAX), Err(NonceError::Expired));
}

#[test]
fn hmac_nonce_from_a_future_step_is_invalid() {
    let s = source();
    let n = s.issue(T0 + STEP);
    assert_eq!(s.check(&n, T0 + STEP - 1), Err(NonceError::Invalid));
    assert_eq!(s.check(&n, 0), Err(NonceError::Invalid));
}

#[test]
fn replicas_sharing_the_secret_accept_each_others_nonces() {
    let a = HmacNonceSource::new(SECRET, STEP);
    let b = HmacNonceSource::new(SECRET, STEP);
    assert_eq!(b.check(&a.issue(T0), T0 + 1), Ok(()));
    assert_eq!(a.check(&b.issue(T0 + STEP), T0 + STEP + 1), Ok(()));
    assert_eq!(a.issue(T0), b.issue(T0));
}

#[test]
fn nonce_from_another_secret_is_invalid() {
    let other = HmacNonceSource::new([0x43; 32], STEP);
    assert_eq!(
        source().check(&other.issue(T0), T0),
        Err(NonceError::Invalid)
    );
}

#[test]
fn nonces_change_with_the_step() {
    let s = source();
    assert_eq!(s.issue(T0), s.issue(T0 + STEP - 1));
    assert_ne!(s.issue(T0), s.issue(T0 + STEP));
}

#[test]
fn tampered_mac_is_invalid() {
    let s = source();
    let mut n = s.issue(T0).into_bytes();
    let last = n.len() - 1;
    // 24 bytes fill 32 characters exactly, so changing the last one changes the MAC.
    n[last] = if n[last] == b'A' { b'Q' } else { b'A' };
    let n = String::from_utf8(n).unwrap();
    assert_eq!(s.check(&n, T0), Err(NonceError::Invalid));
}

#[test]
fn forged_old_step_is_invalid_not_expired() {
    let s = source();
    let n = s.issue(T0);
    // Replace the step prefix (first 8 bytes = first 10 chars + 4 bits) with step 0.
    let forged = format!("AAAAAAAAAA{}", &n[10..]);
    assert_eq!(s.check(&forged, T0), Err(NonceError::Invalid));
    assert_eq!(s.check(&forged, T0 + 10 * STEP), Err(NonceError::Invalid));
}

#[test]
fn malformed_nonces_are_invalid() {
    let s = source();
    let n = s.issue(T0);
    for bad in [
        n[..31].to_owned(),
        format!("{n}A"),
        format!("{}+", &n[..31]),
        format!("{}/", &n[..31]),
        format!("{}=", &n[..31]),
        format!("{}.", &n[..31]),
        format!("{}é", &n[..30]),
        "not-a-nonce".to_owned(),
        " ".repeat(32),
    ] {
        assert_eq!(s.check(&bad, T0), Err(NonceError::Invalid), "{bad:?}");
    }
}

#[test]
fn empty_nonce_is_missing() {
    assert_eq!(source().check("", T0), Err(NonceError::Missing));
    assert_eq!(FixedNonce("abc").check("", T0), Err(NonceError::Missing));
}

#[test]
fn issue_into_writes_the_same_nonce_without_allocating() {
    let s = source();
    let mut buf = [0u8; HmacNonceSource::NONCE_LEN];
    let n = s.issue_into(T0, &mut buf).unwrap();
    assert_eq!(n, s.issue(T0));
}

#[test]
fn issue_into_reports_a_small_buffer() {
    let mut buf = [0u8; 31];
    assert_eq!(
        source().issue_into(T0, &mut buf),
        Err(NonceError::BufferTooSmall)
    );
    assert_eq!(
        FixedNonce("abcd").issue_into(T0, &mut [0u8; 3]),
        Err(NonceError::BufferTooSmall)
    );
}

#[test]
fn zero_step_is_taken_as_one_second() {
    let s = HmacNonceSource::new(SECRET, 0);
    assert_eq!(s.step_secs(), 1);
    let n = s.issue(100);
    assert_eq!(s.check(&n, 101), Ok(()));
    assert_eq!(s.check(&n, 102), Err(NonceError::Expired));
}

#[test]
fn debug_output_hides_the_secret() {
    let d = format!("{:?}", source());
    assert!(d.contains("step_secs: 60"), "{d}");
    assert!(!d.contains("42") && !d.contains("66"), "{d}");
}

#[test]
fn fixed_nonce_accepts_exactly_its_value() {
    let f = FixedNonce("eyJ7S_zG.eyJH0-Z.HX4w-7v");
    assert_eq!(f.check("eyJ7S_zG.eyJH0-Z.HX4w-7v", 0), Ok(()));
    assert_eq!(
        f.check("eyJ7S_zG.eyJH0-Z.HX4w-7V", 0),
        Err(NonceError::Invalid)
    );
    assert_eq!(
        f.check("eyJ7S_zG.eyJH0-Z.HX4w-7", 0),
        Err(NonceError::Invalid)
    );
    assert_eq!(
        f.check("eyJ7S_zG.eyJH0-Z.HX4w-7vX", 0),
        Err(NonceError::Invalid)
    );
}

#[test]
fn fixed_nonce_issues_its_value() {
    let f = FixedNonce("n-0S6_WzA2Mj");
    assert_eq!(f.issue(7), "n-0S6_WzA2Mj");
    let mut buf = [0u8; 64];
    assert_eq!(f.issue_into(7, &mut buf), Ok("n-0S6_WzA2Mj"));
}

#[test]
fn sources_work_behind_dyn_and_references() {
    let h = source();
    let sources: [&dyn NonceSource; 2] = [&h, &FixedNonce("abc")];
    for s in sources {
        let n = s.issue(T0);
        assert_eq!(s.check(&n, T0), Ok(()));
        assert_eq!((&s).check(&n, T0), Ok(()));
    }
}

#[test]
fn default_issue_goes_through_issue_into() {
    struct Counter;
    impl NonceSource for Counter {
        fn check(&self, nonce: &str, now: u64) -> Result<(), NonceError> {
            if nonce == now.to_string() {
                Ok(())
            } else {
                Err(NonceError::Invalid)
            }
        }
        fn issue_into<'b>(&self, now: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
            let s = now.to_string();
            let out = buf.get_mut(..s.len()).ok_or(NonceError::BufferTooSmall)?;
            out.copy_from_slice(s.as_bytes());
            Ok(core::str::from_utf8(out).unwrap())
        }
    }
    assert_eq!(Counter.issue(12345), "12345");
    assert_eq!(Counter.check(&Counter.issue(9), 9), Ok(()));
    // Too long for the default buffer: an empty nonce, which no check accepts.
    struct Huge;
    impl NonceSource for Huge {
        fn check(&self, _: &str, _: u64) -> Result<(), NonceError> {
            Err(NonceError::Invalid)
        }
        fn issue_into<'b>(&self, _: u64, buf: &'b mut [u8]) -> Result<&'b str, NonceError> {
            if buf.len() > MAX_NONCE_LEN {
                Ok("x")
            } else {
                Err(NonceError::BufferTooSmall)
            }
        }
    }
    assert_eq!(Huge.issue(0), "");
}

#[test]
fn errors_display_and_are_std_errors() {
    let e: &dyn core::error::Error = &NonceError::Expired;
    assert_eq!(e.to_string(), "DPoP nonce has expired");
    for e in [
        NonceError::Missing,
        NonceError::Invalid,
        NonceError::BufferTooSmall,
    ] {
        assert!(!e.to_string().is_empty());
    }
}
