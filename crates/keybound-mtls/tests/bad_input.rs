//! Bad input comes back as typed errors, never a panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

mod common;

use common::*;
use keybound_cnf::{CertThumbprint, ThumbprintError};
use keybound_mtls::header::{
    self, MAX_CERT_HEADER_LEN, MAX_CHAIN_HEADER_LEN, MAX_LIST_MEMBERS, decode_nginx_escaped,
    decode_rfc9440_client_cert,
};
use keybound_mtls::xfcc::{self, decode_xfcc_cert};
use keybound_mtls::{
    CertDer, CertError, CertFormat, MAX_CERT_DER_LEN, decode_cert, x5t_s256_checked,
};

const FORMATS: [CertFormat; 6] = [
    CertFormat::Der,
    CertFormat::Pem,
    CertFormat::Rfc9440,
    CertFormat::NginxEscaped,
    CertFormat::Xfcc,
    CertFormat::Base64,
];

#[test]
fn every_truncation_of_every_encoding_is_an_error() {
    let c = openssl_cert("rsa2048");
    let pem = pem_of(&c.der);
    let encodings = [
        (CertFormat::Der, c.der.clone()),
        (CertFormat::Pem, pem.clone().into_bytes()),
        (CertFormat::Rfc9440, rfc9440(&c.der).into_bytes()),
        (CertFormat::NginxEscaped, nginx_escape(&pem).into_bytes()),
        (CertFormat::Xfcc, xfcc(&c.der, &c.der).into_bytes()),
    ];
    for (format, value) in encodings {
        let mut buf = vec![0u8; value.len()];
        for cut in 0..value.len() {
            let r = decode_cert(format, &value[..cut], &mut buf);
            // Only cutting what follows the certificate may leave a valid value: PEM's final
            // newline (raw or %0A) or XFCC pairs after `Cert="…"`.
            if let Ok(der) = r {
                assert_eq!(der.as_bytes(), c.der.as_slice(), "{format} cut at {cut}");
                let tail = &value[cut..];
                let cert_end = value
                    .windows(12)
                    .position(|w| w == b"CERTIFICATE-")
                    .map_or(0, |p| p + 16);
                assert!(
                    tail.iter().all(|b| b.is_ascii_whitespace())
                        || tail == b"%0A"
                        || tail == b"0A"
                        || tail == b"A"
                        || (format == CertFormat::Xfcc && cut > cert_end),
                    "{format} cut at {cut}"
                );
            }
        }
    }
    for cut in 0..c.der.len() {
        assert!(x5t_s256_checked(&c.der[..cut]).is_err());
    }
}

#[test]
fn truncated_der_reports_declared_and_available_lengths() {
    let c = openssl_cert("ec-p256");
    let n = c.der.len();
    assert_eq!(
        CertDer::new(&c.der[..n - 10]),
        Err(CertError::DerTruncated {
            declared: n,
            available: n - 10
        })
    );
    assert_eq!(
        CertDer::new(&c.der[..1]),
        Err(CertError::DerTruncated {
            declared: 2,
            available: 1
        })
    );
    assert_eq!(CertDer::new(&[]), Err(CertError::Empty));
}

#[test]
fn huge_inputs_hit_the_caps() {
    let big = vec![b'A'; MAX_CHAIN_HEADER_LEN + 1];
    let mut buf = vec![0u8; big.len()];
    assert_eq!(
        CertDer::new(&big[..MAX_CERT_DER_LEN + 1]),
        Err(CertError::TooLarge {
            len: MAX_CERT_DER_LEN + 1,
            max: MAX_CERT_DER_LEN
        })
    );
    let one = &big[..MAX_CERT_HEADER_LEN + 1];
    for format in [
        CertFormat::Rfc9440,
        CertFormat::NginxEscaped,
        CertFormat::Base64,
    ] {
        assert_eq!(
            decode_cert(format, one, &mut buf),
            Err(CertError::TooLarge {
                len: MAX_CERT_HEADER_LEN + 1,
                max: MAX_CERT_HEADER_LEN
            }),
            "{format}"
        );
    }
    assert_eq!(
        xfcc::parse(&big).unwrap_err(),
        CertError::TooLarge {
            len: big.len(),
            max: MAX_CHAIN_HEADER_LEN
        }
    );
    assert_eq!(
        header::parse_rfc9440_chain(&big).unwrap_err(),
        CertError::TooLarge {
            len: big.len(),
            max: MAX_CHAIN_HEADER_LEN
        }
    );
    let members = vec![":MAcwADAAAwEA:"; MAX_LIST_MEMBERS + 1].join(",");
    assert_eq!(
        header::parse_rfc9440_chain(members.as_bytes()).unwrap_err(),
        CertError::TooManyElements {
            max: MAX_LIST_MEMBERS
        }
    );
    // Many tiny elements in XFCC.
    let elements = vec!["By=a"; MAX_LIST_MEMBERS + 1].join(",");
    assert_eq!(
        xfcc::parse(elements.as_bytes()).unwrap_err(),
        CertError::TooManyElements {
            max: MAX_LIST_MEMBERS
        }
    );
    let pairs = vec!["URI=a"; xfcc::MAX_XFCC_PAIRS + 1].join(";");
    assert_eq!(
        xfcc::parse(pairs.as_bytes()).unwrap_err(),
        CertError::TooManyElements {
            max: xfcc::MAX_XFCC_PAIRS
        }
    );
}

#[test]
fn wrong_base64_alphabet_is_rejected_everywhere() {
    let c = openssl_cert("ec-p256");
    let std_b64 = rfc9440(&c.der);
    let url = std_b64.replace('+', "-").replace('/', "_");
    assert_ne!(url, std_b64, "fixture should contain + or /");
    let first_bad = url.find(['-', '_']).unwrap();
    let mut buf = vec![0u8; url.len()];
    assert_eq!(
        decode_rfc9440_client_cert(url.as_bytes(), &mut buf),
        Err(CertError::Base64 { offset: first_bad })
    );
    let plain = &url[1..url.len() - 1];
    assert_eq!(
        decode_cert(CertFormat::Base64, plain.as_bytes(), &mut buf),
        Err(CertError::Base64 {
            offset: first_bad - 1
        })
    );
    // A padded or standard-alphabet x5t#S256 is not a thumbprint (RFC 8705 §3.1).
    assert_eq!(
        CertThumbprint::from_b64(&format!("{}=", &c.x5t[..42])),
        Err(ThumbprintError::Base64)
    );
    assert!(CertThumbprint::from_b64(&format!("{}=", c.x5t)).is_err());
    assert!(
        CertThumbprint::from_b64(&c.x5t.replace('-', "+").replace('_', "/")).is_err()
            || !c.x5t.contains(['-', '_'])
    );
}

#[test]
fn percent_encoding_errors_carry_their_offset() {
    let c = openssl_cert("ed25519");
    let escaped = nginx_escape(&pem_of(&c.der));
    let mut buf = vec![0u8; escaped.len() + 8];
    let truncated = &escaped[..escaped.len() - 1]; // ends in "%0"
    assert_eq!(
        decode_nginx_escaped(truncated.as_bytes(), &mut buf),
        Err(CertError::Percent {
            offset: truncated.len() - 2
        })
    );
    let bad = escaped.replacen("%20", "%2G", 1);
    assert_eq!(
        decode_nginx_escaped(bad.as_bytes(), &mut buf),
        Err(CertError::Percent { offset: 10 })
    );
    // A space where nginx writes %20 is fine inside PEM only if whitespace: here it breaks BEGIN.
    let form = escaped.replace("%2B", "+").replacen("%20", "+", 1);
    assert_eq!(
        decode_nginx_escaped(form.as_bytes(), &mut buf),
        Err(CertError::PemNoBegin)
    );
}

#[test]
fn xfcc_unbalanced_quotes_and_hash_problems() {
    let c = openssl_cert("ec-p256");
    let mut buf = vec![0u8; 8192];
    let open = xfcc(&c.der, &c.der).replacen("\";URI", ";URI", 1);
    let at = open.find("Cert=\"").unwrap() + 5;
    assert_eq!(
        decode_xfcc_cert(open.as_bytes(), &mut buf),
        Err(CertError::UnbalancedQuote { offset: at })
    );
    assert_eq!(
        xfcc::parse(br#"Subject="/CN=a\"#).unwrap_err(),
        CertError::UnbalancedQuote { offset: 8 }
    );
    // Hash of another certificate.
    let other = openssl_cert("rsa2048");
    assert_eq!(
        decode_xfcc_cert(xfcc(&c.der, &other.der).as_bytes(), &mut buf),
        Err(CertError::XfccHashMismatch)
    );
    assert_eq!(
        decode_xfcc_cert(b"By=a;Hash=abcd", &mut buf),
        Err(CertError::XfccNoCert)
    );
    assert_eq!(
        xfcc::parse(b"By=a;Hash=zz")
            .unwrap()
            .nearest()
            .unwrap()
            .hash_bytes(),
        Err(CertError::XfccHash)
    );
}

#[test]
fn arbitrary_bytes_never_panic_any_decoder() {
    // A deterministic xorshift stream of short inputs biased towards the syntax characters.
    let alphabet = b":,;=\"\\%-+/ \n0aF9BEGIN CERTIFICATE-----END#\x30\x82\x03";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut buf = vec![0u8; 512];
    for _ in 0..20_000 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let len = (state % 96) as usize;
        let input: Vec<u8> = (0..len)
            .map(|i| {
                let r = state.rotate_left(i as u32 * 5);
                if r & 3 == 0 {
                    (r >> 8) as u8
                } else {
                    alphabet[(r >> 16) as usize % alphabet.len()]
                }
            })
            .collect();
        for format in FORMATS {
            let _ = decode_cert(format, &input, &mut buf);
        }
        let _ = header::parse_rfc9440_chain(&input).map(|c| c.iter().count());
        if let Ok(x) = xfcc::parse(&input) {
            let _ = x.nearest().map(|e| e.cert_der_into(&mut buf).is_ok());
        }
        if let Ok(s) = std::str::from_utf8(&input) {
            #[cfg(feature = "alloc")]
            let _ = keybound_mtls::DistinguishedName::parse(s);
            let _ = keybound_mtls::IpPrefix::parse(s);
        }
    }
}
