//! Fuzz checks for the client's response-header parsing (`keybound_client::header`):
//! `WWW-Authenticate` (RFC 9110 §11), `DPoP-Nonce` (RFC 9449 §8.1), the `use_dpop_nonce` body.

use keybound_client::header::{
    Challenge, MAX_CHALLENGES, MAX_NONCE_LEN, MAX_PARAMS, NonceHeaderError, is_use_dpop_nonce_body,
    is_use_dpop_nonce_challenge, parse_challenges, parse_dpop_nonce,
};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("client_headers", client_headers)];

/// The input is split at `\n` into header field values and read as `WWW-Authenticate` and as
/// `DPoP-Nonce` fields, and whole as an error body. No panic; a parsed challenge list stays
/// within the caps, has unique parameter names, and comes back equal from its canonical
/// form; `is_use_dpop_nonce_challenge` agrees with the parsed challenges; an accepted nonce
/// is the single field, trimmed, `1*NQCHAR` and within its cap.
///
/// # Panics
///
/// When an invariant above does not hold: that is the finding.
pub fn client_headers(data: &[u8]) {
    let fields: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();

    let mut any_use_dpop_nonce = false;
    let mut any_error = false;
    for field in &fields {
        match parse_challenges(field) {
            Ok(chs) => {
                check_challenges(field, &chs);
                any_use_dpop_nonce |= chs.iter().any(|c| {
                    c.is_scheme("dpop") && c.param("error") == Some(b"use_dpop_nonce".as_slice())
                });
            }
            Err(_) => any_error = true,
        }
    }
    match is_use_dpop_nonce_challenge(&fields) {
        Ok(hit) => {
            assert_eq!(hit, any_use_dpop_nonce, "challenge verdict disagrees");
            assert!(hit || !any_error, "a parse error was swallowed");
        }
        Err(_) => assert!(any_error && !any_use_dpop_nonce, "error without cause"),
    }

    match parse_dpop_nonce(&fields) {
        Ok(Some(n)) => {
            assert_eq!(fields.len(), 1);
            assert!(
                keybound_dpop::nonce::is_valid_nonce(n),
                "invalid nonce {n:?}"
            );
            assert!(n.len() <= MAX_NONCE_LEN);
            let field = fields.first().copied().unwrap_or_default();
            let trimmed = field.trim_ascii();
            assert_eq!(trimmed, n.as_bytes(), "nonce is not the trimmed field");
        }
        Ok(None) => assert!(fields.is_empty()),
        Err(NonceHeaderError::Multiple { count }) => {
            assert_eq!(count, fields.len());
            assert!(count > 1);
        }
        Err(_) => assert_eq!(fields.len(), 1),
    }

    if is_use_dpop_nonce_body(data) {
        assert!(keybound_json::Object::parse(data).is_ok());
    }
}

fn check_challenges(field: &[u8], chs: &[Challenge<'_>]) {
    assert!(
        chs.len() <= MAX_CHALLENGES,
        "too many challenges: {field:?}"
    );
    let mut canonical = Vec::new();
    for (i, c) in chs.iter().enumerate() {
        assert!(!c.scheme().is_empty());
        let names: Vec<&str> = c.params().map(|(n, _)| n).collect();
        assert!(names.len() <= MAX_PARAMS);
        assert!(c.token68().is_none() || names.is_empty());
        for (j, a) in names.iter().enumerate() {
            for b in names.iter().skip(j + 1) {
                assert!(!a.eq_ignore_ascii_case(b), "duplicate parameter {a}");
            }
        }
        if i > 0 {
            canonical.extend_from_slice(b", ");
        }
        c.write_to(&mut canonical);
    }
    let again = parse_challenges(&canonical);
    assert_eq!(
        again.as_deref(),
        Ok(chs),
        "canonical form {:?} does not parse back",
        String::from_utf8_lossy(&canonical)
    );
}
