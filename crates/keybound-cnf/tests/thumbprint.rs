#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

use keybound_cnf::{CertThumbprint, JwkThumbprint, ThumbprintError};

const RFC9449_JKT: &str = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I";

#[test]
fn round_trips_rfc9449_jkt() {
    let tp = JwkThumbprint::from_b64(RFC9449_JKT).unwrap();
    let mut buf = [0u8; 43];
    assert_eq!(tp.to_b64(&mut buf), RFC9449_JKT);
    assert_eq!(tp.to_string(), RFC9449_JKT);
    assert_eq!(
        format!("{tp:?}"),
        format!("JwkThumbprint(\"{RFC9449_JKT}\")")
    );
    #[cfg(feature = "alloc")]
    assert_eq!(tp.to_b64_string(), RFC9449_JKT);
    assert!(tp.ct_eq(&JwkThumbprint::from_bytes(*tp.as_bytes())));
}

#[test]
fn rejects_non_canonical_trailing_bits() {
    // 43 chars carry 258 bits; the last character's low 2 bits must be zero. 'I' = 8 (ok), 'J' = 9.
    let bad = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4J";
    assert_eq!(JwkThumbprint::from_b64(bad), Err(ThumbprintError::Base64));
}

#[test]
fn rejects_wrong_length_and_padding_and_alphabet() {
    assert_eq!(
        JwkThumbprint::from_b64(""),
        Err(ThumbprintError::Length { actual: 0 })
    );
    assert_eq!(
        CertThumbprint::from_b64(&format!("{RFC9449_JKT}=")),
        Err(ThumbprintError::Length { actual: 44 })
    );
    let std_alphabet = RFC9449_JKT.replace('-', "+");
    assert_eq!(
        CertThumbprint::from_b64(&std_alphabet),
        Err(ThumbprintError::Base64)
    );
}
