//! x5t#S256 (RFC 8705 §3.1) of external and openssl-made certificates from every encoding,
//! equal to what openssl computed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]

mod common;

use base64ct::{Base64, Encoding};
use common::*;
use keybound_cnf::{CertThumbprint, ThumbprintError};
use keybound_mtls::header::{
    decode_base64, decode_nginx_escaped, decode_rfc9440_client_cert, parse_rfc9440_chain,
};
use keybound_mtls::xfcc::decode_xfcc_cert;
use keybound_mtls::{
    CertDer, CertError, CertFormat, decode_cert, decode_pem_into, x5t_s256, x5t_s256_checked,
};

/// Every encoding of `der`, decoded back, gives the expected thumbprint.
fn assert_all_encodings(name: &str, der: &[u8], expected: &str) {
    let want = CertThumbprint::from_b64(expected).unwrap();
    assert_eq!(x5t_s256(der), want, "{name}: DER");
    assert_eq!(x5t_s256_checked(der).unwrap(), want, "{name}: checked DER");
    assert_eq!(x5t_s256(der).to_string(), expected, "{name}: display");

    let pem = pem_of(der);
    let escaped = nginx_escape(&pem);
    let lower_escaped = escaped.replace("%2B", "%2b").replace("%2F", "%2f");
    let raw_plus = escaped.replace("%2B", "+");
    let folded_pem = pem.replace('\n', " ");
    let encodings: Vec<(&str, CertFormat, Vec<u8>)> = vec![
        ("der", CertFormat::Der, der.to_vec()),
        ("pem", CertFormat::Pem, pem.clone().into_bytes()),
        (
            "pem folded into spaces",
            CertFormat::Pem,
            folded_pem.into_bytes(),
        ),
        (
            "pem crlf",
            CertFormat::Pem,
            pem.replace('\n', "\r\n").into_bytes(),
        ),
        ("rfc9440", CertFormat::Rfc9440, rfc9440(der).into_bytes()),
        (
            "rfc9440 unpadded",
            CertFormat::Rfc9440,
            rfc9440(der).replace('=', "").into_bytes(),
        ),
        (
            "nginx",
            CertFormat::NginxEscaped,
            escaped.clone().into_bytes(),
        ),
        (
            "nginx lower-case hex",
            CertFormat::NginxEscaped,
            lower_escaped.into_bytes(),
        ),
        (
            "nginx literal plus",
            CertFormat::NginxEscaped,
            raw_plus.into_bytes(),
        ),
        ("xfcc", CertFormat::Xfcc, xfcc(der, der).into_bytes()),
        (
            "base64 der",
            CertFormat::Base64,
            Base64::encode_string(der).into_bytes(),
        ),
        (
            "base64 pem",
            CertFormat::Base64,
            Base64::encode_string(pem.as_bytes()).into_bytes(),
        ),
    ];
    for (label, format, value) in &encodings {
        let mut buf = vec![0u8; value.len()];
        let got =
            decode_cert(*format, value, &mut buf).unwrap_or_else(|e| panic!("{name} {label}: {e}"));
        assert_eq!(got.as_bytes(), der, "{name} {label}: DER differs");
        assert_eq!(got.thumbprint(), want, "{name} {label}");
        assert_eq!(
            CertFormat::detect(value),
            *format,
            "{name} {label}: detection"
        );
        #[cfg(feature = "alloc")]
        assert_eq!(
            keybound_mtls::header::decode_cert_to_vec(*format, value).unwrap(),
            der
        );
    }
}

#[test]
fn shared_vectors_match_openssl_pyca_and_node() {
    let vectors = shared_vectors();
    assert_eq!(vectors.len(), 4);
    for (name, pem, der, x5t) in vectors {
        let mut buf = vec![0u8; pem.len()];
        let from_pem = decode_pem_into(&pem, &mut buf).unwrap();
        if let Some(der) = &der {
            assert_eq!(
                from_pem.as_bytes(),
                der.as_slice(),
                "{name}: PEM and DER files differ"
            );
        }
        let der = from_pem.as_bytes().to_vec();
        assert_all_encodings(&name, &der, &x5t);
    }
}

#[test]
fn openssl_made_certificates_match_openssl_thumbprints() {
    let certs = openssl_certs();
    assert_eq!(certs.len(), 7);
    for c in certs {
        let mut buf = vec![0u8; c.pem.len()];
        assert_eq!(
            decode_pem_into(&c.pem, &mut buf).unwrap().as_bytes(),
            c.der.as_slice(),
            "{}",
            c.file
        );
        assert_all_encodings(&c.file, &c.der, &c.x5t);
    }
}

#[test]
fn rsa_certificate_is_about_1_2_kb_and_hashes_without_allocation() {
    let c = openssl_cert("rsa2048");
    assert!((900..1600).contains(&c.der.len()), "{}", c.der.len());
    let der = CertDer::new(&c.der).unwrap();
    assert_eq!(der.thumbprint().to_string(), c.x5t);
}

#[test]
fn rfc9440_chain_holds_each_certificate() {
    let certs = openssl_certs();
    let value = certs
        .iter()
        .map(|c| rfc9440(&c.der))
        .collect::<Vec<_>>()
        .join(", ");
    let chain = parse_rfc9440_chain(value.as_bytes()).unwrap();
    assert_eq!(chain.len(), certs.len());
    let mut buf = vec![0u8; value.len()];
    for (item, c) in chain.iter().zip(&certs) {
        assert_eq!(
            item.decode_into(&mut buf).unwrap().thumbprint().to_string(),
            c.x5t
        );
    }
    #[cfg(feature = "alloc")]
    assert_eq!(chain.to_vecs().unwrap().len(), certs.len());
}

#[test]
fn negative_ideas_from_the_vectors_do_not_match() {
    let c = openssl_cert("ec-p256");
    let want = x5t_s256(&c.der);
    // Padded value, standard alphabet, hex fingerprint: not a valid x5t#S256 at all.
    assert!(matches!(
        CertThumbprint::from_b64(&format!("{}=", c.x5t)),
        Err(ThumbprintError::Length { .. })
    ));
    let std_alphabet = Base64::encode_string(want.as_bytes());
    let std_alphabet = std_alphabet.trim_end_matches('=');
    if std_alphabet != c.x5t {
        assert!(CertThumbprint::from_b64(std_alphabet).is_err());
    }
    assert!(CertThumbprint::from_b64(&hex(want.as_bytes())).is_err());
    // Thumbprint of the PEM text, or of the SPKI only, differs from the certificate's.
    assert_ne!(x5t_s256(&c.pem), want);
    assert_ne!(x5t_s256(&c.der[4..]), want);
}

#[test]
fn strictness_trailing_data_multiple_blocks_and_labels_are_errors() {
    let c = openssl_cert("rsa2048");
    let mut trailing = c.der.clone();
    trailing.push(0);
    assert_eq!(
        x5t_s256_checked(&trailing),
        Err(CertError::DerTrailingData {
            der_len: c.der.len(),
            total_len: c.der.len() + 1
        })
    );
    let pem = String::from_utf8(c.pem.clone()).unwrap();
    let two = format!("{pem}{pem}");
    let mut buf = vec![0u8; two.len()];
    assert_eq!(
        decode_pem_into(two.as_bytes(), &mut buf),
        Err(CertError::PemMultipleBlocks { offset: pem.len() })
    );
    let key = pem.replace("CERTIFICATE", "PUBLIC KEY");
    assert_eq!(
        decode_pem_into(key.as_bytes(), &mut buf),
        Err(CertError::PemLabel { offset: 11 })
    );
    let trusted = pem.replace("CERTIFICATE", "TRUSTED CERTIFICATE");
    assert_eq!(
        decode_pem_into(trusted.as_bytes(), &mut buf),
        Err(CertError::PemLabel { offset: 11 })
    );
    // Two certificates in one nginx header (a chain pasted by mistake).
    let escaped = nginx_escape(&two);
    let mut buf = vec![0u8; escaped.len()];
    assert_eq!(
        decode_nginx_escaped(escaped.as_bytes(), &mut buf),
        Err(CertError::PemMultipleBlocks { offset: pem.len() })
    );
}

#[test]
fn decoders_need_a_buffer_as_long_as_the_value_at_most() {
    let c = openssl_cert("ec-p256");
    let v = rfc9440(&c.der);
    let mut small = vec![0u8; c.der.len() - 1];
    assert!(matches!(
        decode_rfc9440_client_cert(v.as_bytes(), &mut small),
        Err(CertError::BufferTooSmall { .. })
    ));
    let mut exact = vec![0u8; c.der.len()];
    assert!(decode_rfc9440_client_cert(v.as_bytes(), &mut exact).is_ok());
    let b = Base64::encode_string(&c.der);
    assert!(decode_base64(b.as_bytes(), &mut exact).is_ok());
    let x = xfcc(&c.der, &c.der);
    let mut buf = vec![0u8; x.len()];
    assert!(decode_xfcc_cert(x.as_bytes(), &mut buf).is_ok());
}

#[test]
fn headers_captured_from_a_real_nginx_decode_to_the_openssl_thumbprint() {
    let expected = std::fs::read_to_string(data("nginx/x5t.txt")).unwrap();
    for (capture, name) in [
        ("nginx/captured-ca-client.txt", "client"),
        ("nginx/captured-self-signed.txt", "self"),
    ] {
        let value = std::fs::read(data(capture)).unwrap();
        let want = expected
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap();
        assert_eq!(CertFormat::detect(&value), CertFormat::NginxEscaped);
        let mut buf = vec![0u8; value.len()];
        let der = decode_nginx_escaped(&value, &mut buf).unwrap();
        assert_eq!(der.thumbprint().to_string(), want, "{capture}");
        let pem = std::fs::read(data(&format!("nginx/{name}.pem"))).unwrap();
        let mut pem_buf = vec![0u8; pem.len()];
        assert_eq!(
            decode_pem_into(&pem, &mut pem_buf).unwrap().as_bytes(),
            der.as_bytes()
        );
    }
}
