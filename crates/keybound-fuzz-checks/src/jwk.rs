//! Fuzz checks for the jwk layer.

use keybound_json::Value;
use keybound_jwk::{Jwk, PublicParams, uri};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("jwk_parse", jwk_parse)];

fn raw(v: Value<'_>) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.raw().into(),
        Value::String(s) => format!("\"{}\"", s.raw()),
        Value::Array(a) => a.as_str().into(),
        Value::Object(o) => o.as_str().into(),
        _ => panic!("unexpected value kind {}", v.kind_name()),
    }
}

/// No panic; the thumbprint is the same after reversing the member order and adding
/// whitespace, and equals the thumbprint of its own RFC 7638 canonical form; base64url
/// members re-encode to the same text; thumbprint URIs round trip; the two key-check
/// layers agree on what the cheap one refuses.
///
/// # Panics
///
/// When an invariant above does not hold: that is the finding.
pub fn jwk_parse(data: &[u8]) {
    let Ok(jwk) = Jwk::parse(data) else { return };
    let tp = jwk.thumbprint();

    // Same members, reversed, with whitespace everywhere it is allowed.
    let members: Vec<String> = jwk
        .object()
        .members()
        .map(|(k, v)| format!(" \"{}\" \t:\r\n{} ", k.raw(), raw(v)))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let shuffled = format!("\n{{{}}}\n", members.join(","));
    let again = Jwk::parse(shuffled.as_bytes())
        .unwrap_or_else(|e| panic!("reordered JWK refused ({e}): {shuffled}"));
    assert_eq!(
        again.thumbprint(),
        tp,
        "thumbprint depends on member order: {shuffled}"
    );
    assert_eq!(again.params(), jwk.params());
    assert_eq!(again.is_private(), jwk.is_private());

    // The canonical form (RFC 7638 §3.2) is itself a JWK with the same thumbprint.
    let mut canonical = String::new();
    jwk.write_thumbprint_input(&mut canonical).unwrap();
    let c = Jwk::parse(canonical.as_bytes())
        .unwrap_or_else(|e| panic!("canonical form refused ({e}): {canonical}"));
    assert_eq!(c.thumbprint(), tp);
    assert!(!c.is_private());
    assert!(c.require_public().is_ok());

    // base64url members are canonical: decode then encode gives the text back.
    let parts = match *jwk.params() {
        PublicParams::Ec { x, y, .. } => vec![x, y],
        PublicParams::Rsa { n, e } => {
            assert!(
                jwk.rsa_modulus_bits()
                    .is_some_and(|b| b > 0 && b <= keybound_jwk::MAX_RSA_MODULUS_BITS)
            );
            vec![n, e]
        }
        PublicParams::Okp { x, .. } => vec![x],
        _ => vec![],
    };
    for p in parts {
        let bytes = p.to_vec();
        assert_eq!(bytes.len(), p.decoded_len());
        assert_eq!(
            b64url(&bytes),
            p.to_string(),
            "non-canonical base64url accepted"
        );
    }

    assert_eq!(uri::parse(&uri::to_string(&tp)), Ok(tp));

    // Key checks: no panic, and whatever the cheap layer refuses the full check refuses alike.
    let full = jwk.check_key();
    if let Err(e) = jwk.check_key_without_decompression() {
        assert_eq!(full, Err(e), "check layers disagree");
    }
}

/// Unpadded base64url (RFC 4648 §5), written independently of the library's decoder.
fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, b)| acc | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(
                A.get(((n >> (18 - 6 * i)) & 63) as usize).copied().unwrap(),
            ));
        }
    }
    out
}
