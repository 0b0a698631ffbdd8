//! Fuzz checks for the mtls layer.

use keybound_mtls::client_auth::{TlsClientAuth, TlsClientAuthId, match_jwks};
use keybound_mtls::dn::DistinguishedName;
use keybound_mtls::header::{self, CertFormat};
use keybound_mtls::proxy::IpPrefix;
use keybound_mtls::xfcc::{self, XfccKey};
use keybound_mtls::{
    CertDer, ParsedCertificate, TrustedProxies, decode_pem_into, pem, x5t_s256, x5t_s256_checked,
};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[
    ("mtls_cert", mtls_cert),
    ("mtls_headers", mtls_headers),
    ("mtls_dn", mtls_dn),
];

const FORMATS: [CertFormat; 6] = [
    CertFormat::Der,
    CertFormat::Pem,
    CertFormat::Rfc9440,
    CertFormat::NginxEscaped,
    CertFormat::Xfcc,
    CertFormat::Base64,
];

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let at = |i: usize| chunk.get(i).copied().unwrap_or(0);
        let b = [at(0), at(1), at(2)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(
                    *ALPHABET.get(((n >> (18 - 6 * i)) & 63) as usize).unwrap(),
                ));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pem_of(der: &[u8]) -> String {
    let b = base64(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b.as_bytes().chunks(64) {
        out.push_str(core::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out + "-----END CERTIFICATE-----\n"
}

fn escape(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A framed certificate survives every encoding's encode → decode round trip.
fn assert_round_trips(der: &[u8]) {
    let pem = pem_of(der);
    let encodings = [
        (CertFormat::Der, der.to_vec()),
        (CertFormat::Pem, pem.clone().into_bytes()),
        (
            CertFormat::Rfc9440,
            format!(":{}:", base64(der)).into_bytes(),
        ),
        (CertFormat::NginxEscaped, escape(&pem).into_bytes()),
        (
            CertFormat::Xfcc,
            format!("By=a;Cert=\"{}\"", escape(&pem)).into_bytes(),
        ),
        (CertFormat::Base64, base64(der).into_bytes()),
    ];
    for (format, value) in encodings {
        if value.len() > header::MAX_CERT_HEADER_LEN {
            continue;
        }
        let mut buf = vec![0u8; value.len()];
        let got = header::decode_cert(format, &value, &mut buf)
            .unwrap_or_else(|e| panic!("{format} round trip failed: {e}"));
        assert_eq!(got.as_bytes(), der, "{format} round trip changed the DER");
    }
}

/// DER / PEM certificates: no panic; framing accepted ⇔ the checked thumbprint exists; a full
/// X.509 parse implies the framing check; PEM and header encodings round-trip; a parsed
/// subject matches itself.
///
/// # Panics
///
/// When an invariant above does not hold.
pub fn mtls_cert(data: &[u8]) {
    let framed = CertDer::new(data);
    assert_eq!(framed.is_ok(), x5t_s256_checked(data).is_ok());
    if let Ok(der) = framed {
        assert_eq!(der.thumbprint(), x5t_s256(data));
        assert_round_trips(data);
    }
    if let Ok(parsed) = ParsedCertificate::from_der(data) {
        assert!(
            framed.is_ok(),
            "x509 parse accepted what the framing check refuses"
        );
        assert_eq!(parsed.subject().matches(parsed.subject()), Ok(()));
        let _ = match_jwks(br#"{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#, &parsed);
        for id in [
            TlsClientAuthId::SanDns("a.example"),
            TlsClientAuthId::SanIp("::1"),
            TlsClientAuthId::SanEmail("a@b"),
        ] {
            let _ = TlsClientAuth::new(id).unwrap().verify(&parsed);
        }
    }
    let mut buf = vec![0u8; data.len()];
    if let Ok(der) = decode_pem_into(data, &mut buf) {
        assert!(CertDer::new(der.as_bytes()).is_ok());
    }
    let mut n = 0;
    for block in pem::pem_blocks(data).take(64) {
        let Ok(block) = block else { break };
        let _ = block.certificate_into(&mut buf);
        n += 1;
    }
    assert!(n <= data.len());
}

/// Every header decoder and the trusted-proxy policy: no panic, decoded output is always a
/// framed certificate, XFCC and RFC 9440 chain iteration stays within the caps.
///
/// # Panics
///
/// When an invariant above does not hold.
pub fn mtls_headers(data: &[u8]) {
    let mut buf = vec![0u8; data.len()];
    for format in FORMATS {
        if let Ok(der) = header::decode_cert(format, data, &mut buf) {
            let der = der.as_bytes().to_vec();
            assert!(
                CertDer::new(&der).is_ok(),
                "{format} returned an unframed certificate"
            );
            assert_round_trips(&der);
        }
    }
    let _ = CertFormat::detect(data);
    if let Ok(x) = xfcc::parse(data) {
        let count = x.elements().count();
        assert_eq!(
            count,
            x.len(),
            "XFCC element count changed between parse and iteration"
        );
        assert!(count <= header::MAX_LIST_MEMBERS);
        for e in x.elements() {
            for key in [
                XfccKey::By,
                XfccKey::Hash,
                XfccKey::Cert,
                XfccKey::Chain,
                XfccKey::Subject,
                XfccKey::Uri,
                XfccKey::Dns,
            ] {
                for v in e.values(key) {
                    let mut out = vec![0u8; v.raw().len()];
                    let unescaped = v.unescape_into(&mut out).unwrap();
                    assert!(unescaped.len() <= v.raw().len());
                }
            }
            let _ = e.hash_bytes();
            let _ = e.cert_der_into(&mut buf);
        }
    }
    if let Ok(chain) = header::parse_rfc9440_chain(data) {
        assert_eq!(chain.iter().count(), chain.len());
        for item in chain.iter() {
            let _ = item.decode_into(&mut buf);
        }
    }
    // A trusted proxy forwarding `data`, and a stranger sending it: the stranger's header is
    // ignored and its TLS certificate (absent here) is all that counts.
    const NETS: [IpPrefix; 2] = [
        IpPrefix::v4(10, 0, 0, 0, 8),
        IpPrefix::v6(core::net::Ipv6Addr::LOCALHOST, 128),
    ];
    for format in FORMATS {
        let policy = TrustedProxies::peers(&NETS, format);
        let _ = policy.client_cert("10.0.0.1".parse().unwrap(), Some(data), &[data], &mut buf);
        let stranger = policy.client_cert("192.0.2.1".parse().unwrap(), None, &[data], &mut buf);
        assert!(
            matches!(stranger, Ok(None)),
            "an untrusted peer's header was used"
        );
    }
}

/// RFC 4514 strings, CIDR prefixes and registered SAN IPs: no panic; a parsed DN matches
/// itself; a parsed prefix contains its own address, survives Display → parse, never covers
/// the IPv4-mapped block, and never lets an IPv6 prefix match an IPv4(-mapped) peer.
///
/// # Panics
///
/// When an invariant above does not hold.
pub fn mtls_dn(data: &[u8]) {
    let Ok(s) = core::str::from_utf8(data) else {
        return;
    };
    if let Ok(dn) = DistinguishedName::parse(s) {
        assert_eq!(dn.matches(&dn), Ok(()));
        assert!(dn.len() <= keybound_mtls::dn::MAX_RDNS);
    }
    let _ = TlsClientAuth::new(TlsClientAuthId::SubjectDn(s));
    let _ = TlsClientAuth::new(TlsClientAuthId::SanIp(s));
    if let Ok(p) = IpPrefix::parse(s) {
        assert!(p.contains(p.addr()));
        assert_eq!(IpPrefix::parse(&p.to_string()), Ok(p));
        assert!(
            !p.covers_ipv4_mapped(),
            "parse accepted a prefix covering ::ffff:0:0/96"
        );
    }
    if let Ok(p) = IpPrefix::parse_covering_ipv4_mapped(s) {
        assert!(p.contains(p.addr()));
        let v4 = core::net::Ipv4Addr::new(10, 1, 2, 3);
        if p.addr().is_ipv6() {
            assert!(!p.contains(core::net::IpAddr::V4(v4)));
            assert!(!p.contains(core::net::IpAddr::V6(v4.to_ipv6_mapped())));
        }
    }
}
