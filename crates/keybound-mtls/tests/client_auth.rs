//! RFC 8705 §2 client authentication against the openssl-made certificates.
#![cfg(feature = "alloc")]
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
use keybound_mtls::client_auth::{
    ClientAuthError, JwkMatch, TlsClientAuth, TlsClientAuthId, match_jwks,
};
use keybound_mtls::dn::{DistinguishedName, DnError, DnMismatch};
use keybound_mtls::{CertError, ParsedCertificate, SanEntry};

fn verify(id: TlsClientAuthId<'_>, file: &str) -> Result<(), ClientAuthError> {
    let c = openssl_cert(file);
    TlsClientAuth::new(id)?.verify_der(&c.der)
}

fn dn_ok(dn: &str, file: &str) {
    verify(TlsClientAuthId::SubjectDn(dn), file).unwrap_or_else(|e| panic!("{dn} vs {file}: {e}"));
}

fn dn_err(dn: &str, file: &str) -> ClientAuthError {
    verify(TlsClientAuthId::SubjectDn(dn), file).unwrap_err()
}

#[test]
fn openssl_rfc2253_subjects_match_their_certificates() {
    for c in openssl_certs() {
        dn_ok(&c.subject, &c.file);
    }
}

#[test]
fn dn_attribute_order_is_significant_between_rdns() {
    dn_ok("CN=client-ec,O=Example Corp,DC=example,DC=com", "ec-p256");
    assert_eq!(
        dn_err("DC=com,DC=example,O=Example Corp,CN=client-ec", "ec-p256"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 0 })
    );
    assert_eq!(
        dn_err("O=Example Corp,CN=client-ec,DC=example,DC=com", "ec-p256"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 2 })
    );
    assert_eq!(
        dn_err("CN=client-ec,O=Example Corp,DC=example", "ec-p256"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::RdnCount {
            registered: 3,
            presented: 4
        })
    );
}

#[test]
fn dn_values_fold_case_and_whitespace_and_types_by_oid() {
    dn_ok(
        "cn=CLIENT-EC , o = example   corp,dc=EXAMPLE,Dc=Com",
        "ec-p256",
    );
    dn_ok(
        "2.5.4.3=client-ec,organizationName=Example Corp,domainComponent=example,0.9.2342.19200300.100.1.25=com",
        "ec-p256",
    );
    dn_ok("CN=client-ed25519,UID=client-007,O=Example Corp", "ed25519");
    dn_ok(
        "CN=client-ed25519,userid=client-007,O=Example Corp",
        "ed25519",
    );
    dn_ok(
        "CN=long-subject.example.org,serialNumber=12345678,E=long.subject@example.org,OU=Second Unit,\
         OU=UnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnitUnit,\
         O=A Very Long Organisation Name For Testing Limits Ltd,STREET=1 Long Street,L=London,ST=Greater London,C=GB",
        "long-subject",
    );
    assert_eq!(
        dn_err("CN=client-ec2,O=Example Corp,DC=example,DC=com", "ec-p256"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 3 })
    );
    assert_eq!(
        dn_err("CN=client-ec,OU=Example Corp,DC=example,DC=com", "ec-p256"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 2 })
    );
}

#[test]
fn multi_valued_rdns_compare_as_sets() {
    dn_ok(
        "CN=J. Smith+O=Example+OU=Sales,DC=example,DC=net",
        "multi-rdn",
    );
    dn_ok(
        "OU=Sales+CN=J.  Smith+O=Example,DC=example,DC=net",
        "multi-rdn",
    );
    assert_eq!(
        dn_err("OU=Sales+CN=J. Smith,DC=example,DC=net", "multi-rdn"),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 2 })
    );
    // Split into separate RDNs is a different name.
    assert_eq!(
        dn_err(
            "OU=Sales,CN=J. Smith,O=Example,DC=example,DC=net",
            "multi-rdn"
        ),
        ClientAuthError::SubjectDnMismatch(DnMismatch::RdnCount {
            registered: 5,
            presented: 3
        })
    );
}

#[test]
fn dn_escaping_of_specials_and_utf8() {
    let c = openssl_cert("escaped-dn");
    // openssl's RFC 2253 output: \XX UTF-8 bytes, \, \+ \" \\ \; \< \> \# and escaped spaces.
    assert!(c.subject.contains(r"\C3\AB") && c.subject.contains(r#"\""#));
    dn_ok(&c.subject, "escaped-dn");
    dn_ok(
        r#"CN=Zoë Müller,OU=\#not-hex,OU=a\+b=c\;d\<e\>f#g\\h,O=Example\, Inc. \+ \"Quotes\",C=US"#,
        "escaped-dn",
    );
    dn_ok(
        r#"CN=ZOË MÜLLER,OU=\23not-hex,OU=a\2Bb\3Dc\3Bd\3Ce\3Ef\23g\5Ch,O=Example\2C Inc. \2B \22Quotes\22,C=US"#,
        "escaped-dn",
    );
    assert_eq!(
        dn_err(
            r#"CN=Zoe Muller,OU=\#not-hex,OU=a\+b=c\;d\<e\>f#g\\h,O=Example\, Inc. \+ \"Quotes\",C=US"#,
            "escaped-dn"
        ),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 4 })
    );
    assert_eq!(
        dn_err(r"CN=a;b", "escaped-dn"),
        ClientAuthError::InvalidSubjectDn(DnError::UnescapedSpecial { offset: 4 })
    );
    assert_eq!(
        dn_err(r"CN=a\q", "escaped-dn"),
        ClientAuthError::InvalidSubjectDn(DnError::InvalidEscape { offset: 4 })
    );
}

#[test]
fn dotted_oid_with_hex_and_string_values() {
    let c = openssl_cert("unknown-attr");
    assert!(
        c.subject
            .contains("1.3.6.1.4.1.55555.1=#0C0C637573746F6D2D76616C7565")
    );
    dn_ok(&c.subject, "unknown-attr");
    dn_ok(
        "CN=unknown-attr,1.3.6.1.4.1.55555.1=Custom-Value,O=Example",
        "unknown-attr",
    );
    dn_ok(
        "CN=unknown-attr,OID.1.3.6.1.4.1.55555.1=custom-value,O=Example",
        "unknown-attr",
    );
    // The same text as a PrintableString still compares as text.
    dn_ok(
        "CN=unknown-attr,1.3.6.1.4.1.55555.1=#130C637573746F6D2D76616C7565,O=Example",
        "unknown-attr",
    );
    assert_eq!(
        dn_err(
            "CN=unknown-attr,1.3.6.1.4.1.55555.2=custom-value,O=Example",
            "unknown-attr"
        ),
        ClientAuthError::SubjectDnMismatch(DnMismatch::Rdn { index: 1 })
    );
}

#[test]
fn san_dns_is_case_insensitive_and_never_a_wildcard() {
    verify(TlsClientAuthId::SanDns("client-ec.example.com"), "ec-p256").unwrap();
    verify(TlsClientAuthId::SanDns("mixed.case.EXAMPLE.com"), "ec-p256").unwrap();
    verify(TlsClientAuthId::SanDns("*.api.example.com"), "ec-p256").unwrap();
    assert_eq!(
        verify(TlsClientAuthId::SanDns("x.api.example.com"), "ec-p256"),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_dns",
            candidates: 3
        })
    );
    assert_eq!(
        verify(TlsClientAuthId::SanDns("client-ec.example.com."), "ec-p256"),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_dns",
            candidates: 3
        })
    );
    // No SAN extension at all.
    assert_eq!(
        verify(TlsClientAuthId::SanDns("x"), "multi-rdn"),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_dns",
            candidates: 0
        })
    );
}

#[test]
fn san_uri_and_email() {
    verify(
        TlsClientAuthId::SanUri("spiffe://example.com/ns/prod/sa/client"),
        "ec-p256",
    )
    .unwrap();
    assert_eq!(
        verify(
            TlsClientAuthId::SanUri("spiffe://example.com/ns/prod/sa/other"),
            "ec-p256"
        ),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_uri",
            candidates: 1
        })
    );
    verify(
        TlsClientAuthId::SanUri("https://client.example.com/rsa"),
        "rsa2048",
    )
    .unwrap();
    verify(
        TlsClientAuthId::SanEmail("Client.EC@example.COM"),
        "ec-p256",
    )
    .unwrap();
    assert_eq!(
        verify(
            TlsClientAuthId::SanEmail("client.ec@Example.com"),
            "ec-p256"
        ),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_email",
            candidates: 1
        })
    );
    verify(TlsClientAuthId::SanEmail("b@example.org"), "long-subject").unwrap();
}

#[test]
fn accepts_san_uri_with_scheme_and_host_in_any_case() {
    // RFC 3986 §6.2.2.1: scheme and host are case-insensitive.
    for uri in [
        "SPIFFE://example.com/ns/prod/sa/client",
        "spiffe://EXAMPLE.com/ns/prod/sa/client",
        "Spiffe://Example.COM/ns/prod/sa/client",
    ] {
        verify(TlsClientAuthId::SanUri(uri), "ec-p256").unwrap_or_else(|e| panic!("{uri}: {e}"));
    }
    verify(
        TlsClientAuthId::SanUri("HTTPS://Client.Example.COM/rsa"),
        "rsa2048",
    )
    .unwrap();
}

#[test]
fn rejects_san_uri_differing_outside_scheme_and_host() {
    // Path, port, percent-encoding and trailing characters compare exactly.
    for (uri, file) in [
        ("spiffe://example.com/NS/prod/sa/client", "ec-p256"),
        ("spiffe://example.com:443/ns/prod/sa/client", "ec-p256"),
        ("spiffe://example.com/ns/prod/sa/client/", "ec-p256"),
        ("spiffe://example.com/ns/prod/sa/%63lient", "ec-p256"),
        ("spiffe://example.com/ns/prod/sa/./client", "ec-p256"),
        ("spiffe:/example.com/ns/prod/sa/client", "ec-p256"),
        ("https://client.example.com/RSA", "rsa2048"),
        ("https://client.example.com:443/rsa", "rsa2048"),
    ] {
        assert_eq!(
            verify(TlsClientAuthId::SanUri(uri), file),
            Err(ClientAuthError::SanMismatch {
                member: "tls_client_auth_san_uri",
                candidates: 1
            }),
            "{uri}"
        );
    }
}

#[test]
fn san_uri_comparison_parts() {
    use keybound_mtls::client_auth::san_uri_eq;
    // Userinfo and port exact, IP literals case-insensitive as hosts, no-authority URIs
    // case-insensitive in the scheme only, values without a scheme exact.
    assert!(!san_uri_eq(
        "https://User@h.example/p",
        "https://user@h.example/p"
    ));
    assert!(san_uri_eq(
        "https://user@H.example/p",
        "HTTPS://user@h.EXAMPLE/p"
    ));
    assert!(san_uri_eq(
        "http://[FE80::1]:8080/x",
        "http://[fe80::1]:8080/x"
    ));
    assert!(!san_uri_eq(
        "http://[fe80::1]:8080/x",
        "http://[fe80::1]:8081/x"
    ));
    assert!(san_uri_eq("URN:example:client:1", "urn:example:client:1"));
    assert!(!san_uri_eq("urn:EXAMPLE:client:1", "urn:example:client:1"));
    assert!(san_uri_eq(
        "https://h.example?q=A#F",
        "https://H.EXAMPLE?q=A#F"
    ));
    assert!(!san_uri_eq(
        "https://h.example?q=A",
        "https://h.example?q=a"
    ));
    assert!(!san_uri_eq("urn://h.example", "urn:h.example"));
    assert!(san_uri_eq("no scheme here", "no scheme here"));
    assert!(!san_uri_eq("1ab://h.example", "1AB://h.example"));
}

#[test]
fn san_ip_by_value_in_every_textual_form() {
    for v4 in ["192.0.2.10", "::ffff:192.0.2.10", "::FFFF:c000:020a"] {
        verify(TlsClientAuthId::SanIp(v4), "ec-p256").unwrap_or_else(|e| panic!("{v4}: {e}"));
    }
    for v6 in [
        "2001:db8::1",
        "2001:DB8:0:0:0:0:0:1",
        "2001:0db8:0000:0000:0000:0000:0000:0001",
        "[2001:db8::1]",
        "2001:db8::0:1",
        "fe80::1:2:3:4",
        "FE80:0:0:0:1:2:3:4",
    ] {
        verify(TlsClientAuthId::SanIp(v6), "ec-p256").unwrap_or_else(|e| panic!("{v6}: {e}"));
    }
    // The certificate holds ::ffff:198.51.100.7 (16 octets): equal to the IPv4 address.
    for mapped in [
        "198.51.100.7",
        "::ffff:198.51.100.7",
        "0:0:0:0:0:ffff:c633:6407",
    ] {
        verify(TlsClientAuthId::SanIp(mapped), "ed25519")
            .unwrap_or_else(|e| panic!("{mapped}: {e}"));
    }
    verify(TlsClientAuthId::SanIp("2001:db8::1:0:0:1"), "ed25519").unwrap();
    assert_eq!(
        verify(TlsClientAuthId::SanIp("2001:db8::2"), "ec-p256"),
        Err(ClientAuthError::SanMismatch {
            member: "tls_client_auth_san_ip",
            candidates: 3
        })
    );
    for bad in [
        "192.0.2.010",
        "fe80::1%eth0",
        "2001:db8::/64",
        "example.com",
        "",
    ] {
        assert_eq!(
            TlsClientAuth::new(TlsClientAuthId::SanIp(bad)),
            Err(ClientAuthError::InvalidRegisteredValue {
                member: "tls_client_auth_san_ip"
            }),
            "{bad}"
        );
    }
}

#[test]
fn exactly_one_identifier_must_be_registered() {
    assert_eq!(
        TlsClientAuth::from_registered(None, None, None, None, None),
        Err(ClientAuthError::NoIdentifierRegistered)
    );
    assert_eq!(
        TlsClientAuth::from_registered(Some("CN=a"), Some("a.example"), None, None, None),
        Err(ClientAuthError::MultipleIdentifiersRegistered {
            first: "tls_client_auth_subject_dn",
            second: "tls_client_auth_san_dns"
        })
    );
    assert_eq!(
        TlsClientAuth::from_registered(None, None, Some("urn:a"), None, Some("a@b")),
        Err(ClientAuthError::MultipleIdentifiersRegistered {
            first: "tls_client_auth_san_uri",
            second: "tls_client_auth_san_email"
        })
    );
    let md = br#"{"client_id":"c1","token_endpoint_auth_method":"tls_client_auth","tls_client_auth_san_dns":"client-ec.example.com","tls_client_auth_subject_dn":null}"#;
    let auth = TlsClientAuth::from_metadata(md).unwrap();
    assert_eq!(auth.member(), "tls_client_auth_san_dns");
    auth.verify_der(&openssl_cert("ec-p256").der).unwrap();
    assert_eq!(
        TlsClientAuth::from_metadata(
            br#"{"tls_client_auth_san_ip":"10.0.0.1","tls_client_auth_san_email":"a@b"}"#
        ),
        Err(ClientAuthError::MultipleIdentifiersRegistered {
            first: "tls_client_auth_san_ip",
            second: "tls_client_auth_san_email"
        })
    );
    assert_eq!(
        TlsClientAuth::from_metadata(br#"{"client_id":"c1"}"#),
        Err(ClientAuthError::NoIdentifierRegistered)
    );
    assert_eq!(
        TlsClientAuth::from_metadata(br#"{"tls_client_auth_san_uri":["urn:a"]}"#),
        Err(ClientAuthError::InvalidRegisteredValue {
            member: "tls_client_auth_san_uri"
        })
    );
    assert_eq!(
        TlsClientAuth::from_metadata(br#"{"tls_client_auth_subject_dn":""}"#),
        Err(ClientAuthError::InvalidRegisteredValue {
            member: "tls_client_auth_subject_dn"
        })
    );
    assert!(matches!(
        TlsClientAuth::from_metadata(b"{"),
        Err(ClientAuthError::Json(_))
    ));
    // Escapes in JSON are resolved before the DN is parsed.
    let md =
        br#"{"tls_client_auth_subject_dn":"CN=client-ec,O=Example Corp,DC=example,DC=\u0063om"}"#;
    TlsClientAuth::from_metadata(md)
        .unwrap()
        .verify_der(&openssl_cert("ec-p256").der)
        .unwrap();
}

#[test]
fn parsed_certificate_exposes_sans() {
    let c = openssl_cert("ec-p256");
    let p = ParsedCertificate::from_der(&c.der).unwrap();
    assert_eq!(p.thumbprint().to_string(), c.x5t);
    assert_eq!(p.subject_alt_names().len(), 8);
    assert!(
        p.subject_alt_names()
            .contains(&SanEntry::Ip("2001:db8::1".parse().unwrap()))
    );
    assert_eq!(p.subject(), &DistinguishedName::parse(&c.subject).unwrap());
    assert_eq!(
        ParsedCertificate::from_der(&c.der[..c.der.len() - 1]).unwrap_err(),
        CertError::DerTruncated {
            declared: c.der.len(),
            available: c.der.len() - 1
        }
    );
}

fn jwks(keys: &[String]) -> Vec<u8> {
    format!("{{\"keys\":[{}]}}", keys.join(",")).into_bytes()
}

#[test]
fn self_signed_matches_jwk_public_key_for_rsa_ec_and_ed25519() {
    let certs = openssl_certs();
    let all: Vec<String> = certs.iter().map(|c| c.jwk.clone()).collect();
    for (i, c) in certs.iter().enumerate() {
        let p = ParsedCertificate::from_der(&c.der).unwrap();
        assert_eq!(
            match_jwks(&jwks(&all), &p),
            Ok(JwkMatch::PublicKey { index: i }),
            "{}",
            c.file
        );
        assert_eq!(
            match_jwks(&jwks(core::slice::from_ref(&c.jwk)), &p),
            Ok(JwkMatch::PublicKey { index: 0 })
        );
    }
    let ec = ParsedCertificate::from_der(&certs[1].der).unwrap();
    let others: Vec<String> = all
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 1)
        .map(|(_, k)| k.clone())
        .collect();
    assert_eq!(
        match_jwks(&jwks(&others), &ec),
        Err(ClientAuthError::NoMatchingJwk { keys: 6 })
    );
    // Same x with another curve name does not match.
    let wrong_crv = certs[1].jwk.replace("P-256", "P-384");
    assert_eq!(
        match_jwks(&jwks(&[wrong_crv]), &ec),
        Err(ClientAuthError::NoMatchingJwk { keys: 1 })
    );
}

#[test]
fn self_signed_matches_x5c_leaf_exactly() {
    let certs = openssl_certs();
    let c = &certs[0];
    let p = ParsedCertificate::from_der(&c.der).unwrap();
    let with_x5c = |der: &[u8]| {
        format!(
            r#"{{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["{}"]}}"#,
            Base64::encode_string(der)
        )
    };
    assert_eq!(
        match_jwks(&jwks(&[with_x5c(&certs[2].der), with_x5c(&c.der)]), &p),
        Ok(JwkMatch::X5c { index: 1 })
    );
    // An x5c naming another certificate is not rescued by matching members.
    let other = c.jwk.replace(
        '}',
        &format!(r#","x5c":["{}"]}}"#, Base64::encode_string(&certs[2].der)),
    );
    assert_eq!(
        match_jwks(&jwks(&[other]), &p),
        Err(ClientAuthError::NoMatchingJwk { keys: 1 })
    );
    let url_alphabet = with_x5c(&c.der).replace('+', "-").replace('/', "_");
    if url_alphabet != with_x5c(&c.der) {
        assert_eq!(
            match_jwks(&jwks(&[url_alphabet]), &p),
            Err(ClientAuthError::JwksMember {
                index: 0,
                member: "x5c"
            })
        );
    }
}

#[test]
fn malformed_jwks_are_typed_errors() {
    let c = openssl_cert("ed25519");
    let p = ParsedCertificate::from_der(&c.der).unwrap();
    assert_eq!(
        match_jwks(br#"{"kty":"OKP"}"#, &p),
        Err(ClientAuthError::JwksNoKeys)
    );
    assert!(matches!(
        match_jwks(br#"{"keys":[}"#, &p),
        Err(ClientAuthError::Json(_))
    ));
    assert_eq!(
        match_jwks(br#"{"keys":[1]}"#, &p),
        Err(ClientAuthError::JwksMember {
            index: 0,
            member: "keys"
        })
    );
    assert_eq!(
        match_jwks(br#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"a+b"}]}"#, &p),
        Err(ClientAuthError::JwksMember {
            index: 0,
            member: "x"
        })
    );
    assert_eq!(
        match_jwks(br#"{"keys":[{"crv":"Ed25519"}]}"#, &p),
        Err(ClientAuthError::JwksMember {
            index: 0,
            member: "kty"
        })
    );
    assert_eq!(
        match_jwks(br#"{"keys":[]}"#, &p),
        Err(ClientAuthError::NoMatchingJwk { keys: 0 })
    );
}
