//! Trusted-proxy selection and the certificate-bound token check (RFC 8705 §3, RFC 9440 §4).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::std_instead_of_core,
    missing_docs
)]

mod common;

use std::net::IpAddr;

use common::*;
use keybound_cnf::{BindingError, CertThumbprint, Confirmation, JwkThumbprint};
use keybound_mtls::proxy::{CertSource, IpPrefix, PrefixError, PresentedCert, TrustedProxies};
use keybound_mtls::{
    CertBindingError, CertError, CertFormat, check_certificate_binding, check_thumbprint_binding,
    x5t_s256,
};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const NETS: [IpPrefix; 2] = [
    IpPrefix::v4(10, 0, 0, 0, 8),
    IpPrefix::v6(std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0), 8),
];

#[test]
fn headers_are_ignored_unless_the_peer_is_trusted() {
    let client = openssl_cert("ec-p256");
    let direct = openssl_cert("rsa2048");
    let header = nginx_escape(&pem_of(&client.der));
    let mut buf = vec![0u8; header.len()];
    let policy = TrustedProxies::peers(&NETS, CertFormat::NginxEscaped);

    // Untrusted peer: the header is the client's own words; its TLS certificate counts.
    let got = policy
        .client_cert(
            ip("192.0.2.9"),
            Some(&direct.der),
            &[header.as_bytes()],
            &mut buf,
        )
        .unwrap()
        .unwrap();
    assert_eq!(got.source, CertSource::Tls);
    assert_eq!(got.der.as_bytes(), direct.der.as_slice());
    assert_eq!(
        policy.client_cert(ip("192.0.2.9"), None, &[header.as_bytes()], &mut buf),
        Ok(None)
    );

    // Trusted proxies (IPv4, IPv6, IPv4-mapped): the header, never the proxy's own certificate.
    for peer in ["10.9.8.7", "fd12::1", "::ffff:10.1.1.1"] {
        let got = policy
            .client_cert(ip(peer), Some(&direct.der), &[header.as_bytes()], &mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(
            got.source,
            CertSource::Header(CertFormat::NginxEscaped),
            "{peer}"
        );
        assert_eq!(got.der.thumbprint().to_string(), client.x5t);
    }
    // A trusted proxy without the header: no client certificate, even with its own TLS one.
    assert_eq!(
        policy.client_cert(ip("10.0.0.1"), Some(&direct.der), &[], &mut buf),
        Ok(None)
    );
    // Repeated header values are refused.
    assert_eq!(
        policy.client_cert(
            ip("10.0.0.1"),
            None,
            &[header.as_bytes(), header.as_bytes()],
            &mut buf
        ),
        Err(CertError::RepeatedHeader)
    );

    // Default and none(): header certificates never count.
    for p in [TrustedProxies::default(), TrustedProxies::none()] {
        assert!(!p.is_trusted(ip("10.0.0.1")));
        assert_eq!(
            p.client_cert(ip("10.0.0.1"), None, &[header.as_bytes()], &mut buf),
            Ok(None)
        );
    }
    // The explicit flag trusts every peer.
    let any = TrustedProxies::any_peer_explicitly(CertFormat::NginxEscaped);
    assert!(any.is_trusted(ip("203.0.113.1")));
}

#[test]
fn rejects_ipv6_prefix_covering_the_ipv4_mapped_block_without_opt_in() {
    for cidr in [
        "::/0",
        "::/1",
        "::/64",
        "::/80",
        "::8000:0:0/81",
        "::fffe:0:0/95",
    ] {
        assert_eq!(
            IpPrefix::parse(cidr),
            Err(PrefixError::CoversIpv4Mapped),
            "{cidr}"
        );
        let p = IpPrefix::parse_covering_ipv4_mapped(cidr).unwrap();
        assert!(p.covers_ipv4_mapped(), "{cidr}");
        assert_eq!(
            IpPrefix::new(p.addr(), p.len()),
            Err(PrefixError::CoversIpv4Mapped),
            "{cidr}"
        );
        assert_eq!(
            IpPrefix::new_covering_ipv4_mapped(p.addr(), p.len()),
            Ok(p),
            "{cidr}"
        );
    }
    // IPv6 prefixes beside the mapped block are ordinary.
    for cidr in [
        "2001:db8::/32",
        "fd00::/8",
        "::/96",
        "::1/128",
        "64:ff9b::/96",
    ] {
        let p = IpPrefix::parse(cidr).unwrap();
        assert!(!p.covers_ipv4_mapped(), "{cidr}");
    }
}

#[test]
fn accepts_explicit_ipv6_prefix_covering_mapped_block_for_ipv6_peers_only() {
    let everyone_v6 = IpPrefix::parse_covering_ipv4_mapped("::/0").unwrap();
    assert_eq!(
        everyone_v6,
        IpPrefix::v6(std::net::Ipv6Addr::UNSPECIFIED, 0)
    );
    assert!(everyone_v6.contains(ip("2001:db8::1")));
    assert!(everyone_v6.contains(ip("::1")));
    assert!(!everyone_v6.contains(ip("10.1.2.3")));
    assert!(!everyone_v6.contains(ip("::ffff:10.1.2.3")));

    let client = openssl_cert("ec-p256");
    let direct = openssl_cert("rsa2048");
    let header = nginx_escape(&pem_of(&client.der));
    let mut buf = vec![0u8; header.len()];
    let nets = [everyone_v6];
    let policy = TrustedProxies::peers(&nets, CertFormat::NginxEscaped);
    // An IPv4 client on a dual-stack socket is not a trusted proxy: its header is ignored.
    for peer in ["::ffff:198.51.100.7", "198.51.100.7"] {
        assert!(!policy.is_trusted(ip(peer)), "{peer}");
        let got = policy
            .client_cert(ip(peer), Some(&direct.der), &[header.as_bytes()], &mut buf)
            .unwrap()
            .unwrap();
        assert_eq!(got.source, CertSource::Tls, "{peer}");
        assert_eq!(got.der.as_bytes(), direct.der.as_slice(), "{peer}");
    }
    let got = policy
        .client_cert(ip("2001:db8::7"), None, &[header.as_bytes()], &mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(got.source, CertSource::Header(CertFormat::NginxEscaped));
}

#[test]
fn matches_ipv4_mapped_peers_only_against_ipv4_prefixes() {
    // A prefix written inside the mapped block is the IPv4 prefix it maps.
    assert_eq!(
        IpPrefix::parse("::ffff:10.0.0.0/104"),
        IpPrefix::parse("10.0.0.0/8")
    );
    assert_eq!(
        IpPrefix::parse("::ffff:0:0/96"),
        IpPrefix::parse("0.0.0.0/0")
    );
    assert_eq!(
        IpPrefix::v6("::ffff:10.0.0.0".parse().unwrap(), 104),
        IpPrefix::v4(10, 0, 0, 0, 8)
    );
    let v4 = IpPrefix::parse("10.0.0.0/8").unwrap();
    assert!(v4.contains(ip("10.1.2.3")));
    assert!(v4.contains(ip("::ffff:10.1.2.3")));
    assert!(
        !v4.contains(ip("::a01:203")),
        "IPv4-compatible is not IPv4-mapped"
    );
    let v6 = IpPrefix::parse("::/96").unwrap();
    assert!(!v6.contains(ip("::ffff:10.1.2.3")));
    assert!(!v6.contains(ip("10.1.2.3")));
    assert!(v6.contains(ip("::a01:203")));
}

#[test]
fn xfcc_takes_the_last_value_and_its_last_element() {
    let client = openssl_cert("ed25519");
    let value = xfcc(&client.der, &client.der);
    let mut buf = vec![0u8; value.len() + 64];
    let policy = TrustedProxies::peers(&NETS, CertFormat::Xfcc);
    let earlier = b"By=spiffe://x;Hash=00".as_slice();
    let got: PresentedCert<'_> = policy
        .client_cert(ip("10.0.0.2"), None, &[earlier, value.as_bytes()], &mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(got.der.thumbprint().to_string(), client.x5t);
}

#[test]
fn certificate_bound_token_check() {
    let c = openssl_cert("ec-p256");
    let other = openssl_cert("rsa2048");
    let bound = Confirmation::parse(format!(r#"{{"x5t#S256":"{}"}}"#, c.x5t).as_bytes()).unwrap();
    assert_eq!(
        check_certificate_binding(&bound, Some(&c.der)),
        Ok(Some(x5t_s256(&c.der)))
    );
    assert_eq!(
        check_certificate_binding(&bound, Some(&other.der)),
        Err(CertBindingError::Binding(BindingError::Mismatch))
    );
    assert_eq!(
        check_certificate_binding(&bound, None),
        Err(CertBindingError::Binding(BindingError::NoCertificate))
    );
    assert_eq!(
        check_certificate_binding(&bound, Some(&c.der[..50])),
        Err(CertBindingError::MalformedCertificate(
            CertError::DerTruncated {
                declared: c.der.len(),
                available: 50
            }
        ))
    );
    assert_eq!(
        check_certificate_binding(&Confirmation::new(), Some(&c.der)),
        Err(CertBindingError::Binding(BindingError::NotBound))
    );
    let dpop_bound = Confirmation::from_jkt(JwkThumbprint::from_bytes([7; 32]));
    assert_eq!(
        check_certificate_binding(&dpop_bound, Some(&c.der)),
        Err(CertBindingError::Binding(BindingError::WrongKind))
    );
    // XFCC Hash= already is the thumbprint.
    let hash = CertThumbprint::from_bytes(*x5t_s256(&c.der).as_bytes());
    assert_eq!(check_thumbprint_binding(&bound, Some(&hash)), Ok(()));
    let err = check_certificate_binding(&bound, None).unwrap_err();
    assert_eq!(
        (err.wire_error(), err.http_status()),
        ("invalid_token", 401)
    );
    assert!(err.to_string().contains("no"));
}
