//! Fuzz checks for the htu layer (RFC 9449 §4.3 step 6, RFC 3986 §6.2.2/§6.2.3).

use keybound_dpop::htu::{htu_matches, normalize_htu, normalize_htu_into};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("htu_normalize", htu_normalize)];

/// `htu` normalization never panics, is idempotent, and agrees with the streaming
/// comparison: the input is split at its first newline into two URIs (or used twice), and
/// `htu_matches(a, b)` must equal `normalize(a) == normalize(b)`.
///
/// # Panics
///
/// When one of those invariants does not hold (a bug in `keybound_dpop::htu`).
pub fn htu_normalize(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    let (a, b) = s.split_once('\n').unwrap_or((s, s));
    let na = check_one(a);
    let nb = check_one(b);
    if let (Some(na), Some(nb)) = (na, nb) {
        assert_eq!(
            htu_matches(a, b),
            Ok(na == nb),
            "streaming comparison disagrees: {a:?} {b:?}"
        );
    }
}

fn check_one(s: &str) -> Option<String> {
    match normalize_htu(s) {
        Ok(n) => {
            assert_eq!(
                normalize_htu(&n).as_deref(),
                Ok(n.as_str()),
                "not idempotent: {s:?}"
            );
            assert_eq!(htu_matches(s, s), Ok(true), "does not match itself: {s:?}");
            assert_eq!(
                htu_matches(&n, s),
                Ok(true),
                "does not match its normal form: {s:?}"
            );
            assert!(n.len() <= s.len() + 1, "normal form grew: {s:?} -> {n:?}");
            let mut buf = vec![0u8; s.len() + 1];
            assert_eq!(
                normalize_htu_into(s, &mut buf),
                Ok(n.as_str()),
                "buffer form differs: {s:?}"
            );
            Some(n)
        }
        Err(e) => {
            assert_eq!(
                htu_matches(s, s),
                Err(e),
                "error differs in htu_matches: {s:?}"
            );
            let mut buf = vec![0u8; s.len() + 1];
            assert_eq!(
                normalize_htu_into(s, &mut buf),
                Err(e),
                "buffer form error differs: {s:?}"
            );
            None
        }
    }
}
