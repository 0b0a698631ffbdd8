//! Which certificate is the client's: the TLS peer's, or one a trusted reverse proxy forwarded.
//!
//! Rules (RFC 9440 §4 security considerations, RFC 8705 §7.2):
//! - header certificates are **ignored** unless the connection's peer is a trusted proxy —
//!   listed by address prefix (IPv4 / IPv6 CIDR) or trusted by an explicit flag;
//! - when the peer is a trusted proxy, only the header counts: the certificate that proxy
//!   presented on its own TLS connection to this server is its identity, **never** the client's;
//! - when the peer is not a trusted proxy, only its own TLS certificate counts and any header
//!   (which the client itself may have written) is ignored.
//!
//! The trusted proxy must strip or overwrite the header on every request it forwards, or a
//! client could supply its own; see `docs/proxy-wiring.md`.
//!
//! # IPv4 peers on IPv6 sockets
//!
//! A dual-stack listener sees an IPv4 client as the IPv4-mapped IPv6 address
//! `::ffff:a.b.c.d` (RFC 4291 §2.5.5.2). [`IpPrefix`] matches by address family after
//! un-mapping: an IPv4 peer, native or mapped, matches **only IPv4 prefixes**; every other
//! IPv6 peer matches only IPv6 prefixes. So `::/0` never trusts an IPv4 client. A prefix
//! written inside the mapped block (`::ffff:10.0.0.0/104`) is the IPv4 prefix it maps
//! (`10.0.0.0/8`). An IPv6 prefix shorter than /96 that contains the whole mapped block
//! (`::/0` … `::/80`) is refused ([`PrefixError::CoversIpv4Mapped`]) unless built with
//! [`IpPrefix::parse_covering_ipv4_mapped`] / [`IpPrefix::new_covering_ipv4_mapped`]: it
//! still matches IPv6 peers only, and the explicit call records that the caller knows it.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::str::FromStr;

use crate::cert::CertDer;
use crate::error::CertError;
use crate::header::{self, CertFormat};

/// An IPv4 or IPv6 address prefix in CIDR notation (RFC 4632 §3.1, RFC 4291 §2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

/// Why a CIDR string is not a prefix.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrefixError {
    /// The address part is not an IPv4 or IPv6 address.
    Address,
    /// The prefix length is not a number up to 32 (IPv4) or 128 (IPv6).
    Length {
        /// The largest length for the address family.
        max: u8,
    },
    /// Bits are set past the prefix length (`10.1.2.3/8`): write the network address.
    HostBits,
    /// An IPv6 prefix shorter than /96 that contains the whole IPv4-mapped block
    /// `::ffff:0:0/96` (such as `::/0`): it matches IPv6 peers only, never IPv4 clients on a
    /// dual-stack socket; list IPv4 prefixes separately, and confirm the IPv6 one with
    /// [`IpPrefix::parse_covering_ipv4_mapped`].
    CoversIpv4Mapped,
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Address => f.write_str("not an IPv4 or IPv6 address"),
            Self::Length { max } => write!(f, "prefix length must be 0..={max}"),
            Self::HostBits => f.write_str("address has bits set past the prefix length"),
            Self::CoversIpv4Mapped => f.write_str(
                "IPv6 prefix covers the IPv4-mapped range ::ffff:0:0/96 but matches IPv6 peers only; \
                 list IPv4 prefixes separately and confirm the IPv6 one explicitly",
            ),
        }
    }
}

impl core::error::Error for PrefixError {}

fn bits(addr: IpAddr) -> (u128, u8) {
    match addr {
        IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (u128::from(a), 128),
    }
}

/// The network bits of a `width`-bit address with a `len`-bit prefix (`len <= width`).
fn mask(len: u8, width: u8) -> u128 {
    if len == 0 || len > width {
        return 0;
    }
    let full = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    let host_bits = u32::from(width - len);
    full & !(1u128.checked_shl(host_bits).unwrap_or(0).wrapping_sub(1))
}

/// `::ffff:0:0`, the start of the IPv4-mapped block (RFC 4291 §2.5.5.2).
const MAPPED_BASE: u128 = 0xffff_0000_0000;
/// Length of the IPv4-mapped block's prefix.
const MAPPED_LEN: u8 = 96;

/// Where an IPv6 network lies relative to the IPv4-mapped block.
enum Mapped {
    /// Disjoint from it.
    Outside,
    /// Inside it (or equal to it): the IPv4 prefix it maps.
    Inside(Ipv4Addr, u8),
    /// Strictly containing it.
    Covers,
}

const fn classify_v6(value: u128, len: u8) -> Mapped {
    if len >= MAPPED_LEN {
        if value >> 32 == MAPPED_BASE >> 32 {
            // The low 32 bits are the IPv4 network; `value` has no host bits.
            return Mapped::Inside(Ipv4Addr::from_bits(value as u32), len - MAPPED_LEN);
        }
        return Mapped::Outside;
    }
    let shift = 128 - len as u32;
    // `len < 96`, so `shift > 32` and `len == 0` gives a shift of 128: compare nothing.
    let same = if shift >= 128 {
        true
    } else {
        value >> shift == MAPPED_BASE >> shift
    };
    if same {
        Mapped::Covers
    } else {
        Mapped::Outside
    }
}

impl IpPrefix {
    /// A prefix of `len` bits; host bits must be zero. An IPv6 prefix inside `::ffff:0:0/96`
    /// becomes the IPv4 prefix it maps; one that covers that block is refused with
    /// [`PrefixError::CoversIpv4Mapped`] (see the module docs).
    pub fn new(addr: IpAddr, len: u8) -> Result<Self, PrefixError> {
        let prefix = Self::new_covering_ipv4_mapped(addr, len)?;
        if prefix.covers_ipv4_mapped() {
            return Err(PrefixError::CoversIpv4Mapped);
        }
        Ok(prefix)
    }

    /// [`IpPrefix::new`] that also accepts an IPv6 prefix covering the IPv4-mapped block
    /// (such as `::/0`), which matches IPv6 peers only: an explicit opt-in.
    pub fn new_covering_ipv4_mapped(addr: IpAddr, len: u8) -> Result<Self, PrefixError> {
        let (value, width) = bits(addr);
        if len > width {
            return Err(PrefixError::Length { max: width });
        }
        if (value & !mask(len, width)) != 0 {
            return Err(PrefixError::HostBits);
        }
        Ok(Self::canonical(addr, len))
    }

    /// The IPv4 form of a prefix inside the mapped block; any other prefix as it is.
    const fn canonical(addr: IpAddr, len: u8) -> Self {
        if let IpAddr::V6(v6) = addr
            && let Mapped::Inside(v4, len4) = classify_v6(v6.to_bits(), len)
        {
            return Self {
                addr: IpAddr::V4(v4),
                len: len4,
            };
        }
        Self { addr, len }
    }

    /// Whether this is an IPv6 prefix strictly containing `::ffff:0:0/96` (see the module docs).
    pub const fn covers_ipv4_mapped(&self) -> bool {
        match self.addr {
            IpAddr::V6(v6) => matches!(classify_v6(v6.to_bits(), self.len), Mapped::Covers),
            IpAddr::V4(_) => false,
        }
    }

    /// One IPv4 network, usable in `const` tables (`len` is clamped to 32, host bits cleared).
    pub const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8) -> Self {
        let len = if len > 32 { 32 } else { len };
        let raw = u32::from_be_bytes([a, b, c, d]);
        let m = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        Self {
            addr: IpAddr::V4(Ipv4Addr::from_bits(raw & m)),
            len,
        }
    }

    /// One IPv6 network, usable in `const` tables (`len` is clamped to 128, host bits cleared).
    ///
    /// Being explicit, it builds prefixes covering the IPv4-mapped block too (`::/0` matches
    /// every IPv6 peer and no IPv4 one); a prefix inside that block is the IPv4 prefix it maps.
    pub const fn v6(addr: Ipv6Addr, len: u8) -> Self {
        let len = if len > 128 { 128 } else { len };
        let m = if len == 0 {
            0
        } else {
            u128::MAX << (128 - len)
        };
        Self::canonical(IpAddr::V6(Ipv6Addr::from_bits(addr.to_bits() & m)), len)
    }

    /// Parses `ADDR/LEN` or a bare address (a host prefix), as [`IpPrefix::new`] decides.
    pub fn parse(s: &str) -> Result<Self, PrefixError> {
        let prefix = Self::parse_covering_ipv4_mapped(s)?;
        if prefix.covers_ipv4_mapped() {
            return Err(PrefixError::CoversIpv4Mapped);
        }
        Ok(prefix)
    }

    /// [`IpPrefix::parse`] that also accepts an IPv6 prefix covering the IPv4-mapped block
    /// (such as `::/0`), which matches IPv6 peers only: an explicit opt-in.
    pub fn parse_covering_ipv4_mapped(s: &str) -> Result<Self, PrefixError> {
        let (addr, len) = match s.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (s, None),
        };
        let addr = IpAddr::from_str(addr).map_err(|_| PrefixError::Address)?;
        let width = bits(addr).1;
        let len = match len {
            None => width,
            Some(l) => {
                // Digits only: no sign, no whitespace, no leading zeros beyond "0".
                if l.is_empty()
                    || l.len() > 3
                    || !l.bytes().all(|c| c.is_ascii_digit())
                    || (l.len() > 1 && l.starts_with('0'))
                {
                    return Err(PrefixError::Length { max: width });
                }
                l.parse::<u8>()
                    .map_err(|_| PrefixError::Length { max: width })?
            }
        };
        Self::new_covering_ipv4_mapped(addr, len)
    }

    /// The network address.
    pub const fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length in bits.
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// True for `0.0.0.0/0` and `::/0` (every IPv4, or every non-IPv4-mapped IPv6, peer).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `ip` lies in the prefix. IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`) count
    /// as the IPv4 address, so a dual-stack listener matches IPv4 prefixes; an IPv4 peer,
    /// native or mapped, never matches an IPv6 prefix (not even `::/0`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (want, width) = bits(self.addr);
        let (have, have_width) = bits(ip.to_canonical());
        if width != have_width {
            return false;
        }
        let m = mask(self.len, width);
        have & m == want & m
    }
}

impl FromStr for IpPrefix {
    type Err = PrefixError;
    fn from_str(s: &str) -> Result<Self, PrefixError> {
        Self::parse(s)
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Where the client certificate came from.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertSource {
    /// The TLS handshake with the peer itself (a direct client).
    Tls,
    /// A header set by a trusted proxy, in this format.
    Header(CertFormat),
}

/// The client certificate chosen by [`TrustedProxies::client_cert`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PresentedCert<'c> {
    /// The certificate DER, framing checked.
    pub der: CertDer<'c>,
    /// Where it came from.
    pub source: CertSource,
}

/// Which peers may forward a client certificate in a header, and in which format.
///
/// The [`Default`] trusts no one: header certificates are ignored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies<'a> {
    prefixes: &'a [IpPrefix],
    any_peer: bool,
    format: Option<CertFormat>,
}

impl<'a> TrustedProxies<'a> {
    /// Trusts no proxy: only the TLS peer certificate counts (the default).
    pub const fn none() -> Self {
        Self {
            prefixes: &[],
            any_peer: false,
            format: None,
        }
    }

    /// Trusts peers whose address lies in one of `prefixes` to forward the certificate in `format`.
    pub const fn peers(prefixes: &'a [IpPrefix], format: CertFormat) -> Self {
        Self {
            prefixes,
            any_peer: false,
            format: Some(format),
        }
    }

    /// Trusts **every** peer to forward the certificate in `format`: only for a server that is
    /// reachable solely through the proxy (loopback, a Unix socket, a private network policy).
    pub const fn any_peer_explicitly(format: CertFormat) -> Self {
        Self {
            prefixes: &[],
            any_peer: true,
            format: Some(format),
        }
    }

    /// The header format trusted peers use, if any.
    pub const fn format(&self) -> Option<CertFormat> {
        self.format
    }

    /// Whether `peer` is a trusted proxy.
    pub fn is_trusted(&self, peer: IpAddr) -> bool {
        self.format.is_some() && (self.any_peer || self.prefixes.iter().any(|p| p.contains(peer)))
    }

    /// Chooses the client certificate of a request (see the module rules).
    ///
    /// `tls_cert` is the leaf the peer presented in the TLS handshake, `header_values` every
    /// value of the configured certificate header (empty when absent). More than one value is
    /// [`CertError::RepeatedHeader`], except for XFCC, where the last value's last element is
    /// used as HTTP list semantics require. `out` receives decoded header certificates: a
    /// buffer as long as the header value suffices. `Ok(None)`: no client certificate.
    pub fn client_cert<'c>(
        &self,
        peer: IpAddr,
        tls_cert: Option<&'c [u8]>,
        header_values: &[&'c [u8]],
        out: &'c mut [u8],
    ) -> Result<Option<PresentedCert<'c>>, CertError> {
        let format = match self.format {
            Some(f) if self.is_trusted(peer) => f,
            _ => {
                // A direct client: its own handshake certificate; headers are its own words.
                return tls_cert
                    .map(|der| {
                        Ok(PresentedCert {
                            der: CertDer::new(der)?,
                            source: CertSource::Tls,
                        })
                    })
                    .transpose();
            }
        };
        // A trusted proxy: its TLS certificate is its own identity, never the client's.
        let value = match (header_values, format) {
            ([], _) => return Ok(None),
            ([one], _) => *one,
            ([.., last], CertFormat::Xfcc) => *last,
            _ => return Err(CertError::RepeatedHeader),
        };
        let der = header::decode_cert(format, value, out)?;
        Ok(Some(PresentedCert {
            der,
            source: CertSource::Header(format),
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn parses_v4_and_v6_prefixes() {
        let p = IpPrefix::parse("10.0.0.0/8").unwrap();
        assert!(p.contains("10.255.1.2".parse().unwrap()));
        assert!(p.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!p.contains("11.0.0.1".parse().unwrap()));
        let q = IpPrefix::parse("2001:db8::/32").unwrap();
        assert!(q.contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!q.contains("2001:db9::1".parse().unwrap()));
        assert!(!q.contains("10.0.0.1".parse().unwrap()));
        let mapped = IpPrefix::parse("::ffff:10.0.0.0/104").unwrap();
        assert!(mapped.contains("10.1.2.3".parse().unwrap()));
        assert!(mapped.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!mapped.contains("11.1.2.3".parse().unwrap()));
        assert!(
            IpPrefix::parse("0.0.0.0/0")
                .unwrap()
                .contains("1.2.3.4".parse().unwrap())
        );
        assert!(
            IpPrefix::parse_covering_ipv4_mapped("::/0")
                .unwrap()
                .contains("::1".parse().unwrap())
        );
        assert_eq!(IpPrefix::parse("::/0"), Err(PrefixError::CoversIpv4Mapped));
        assert_eq!(IpPrefix::parse("127.0.0.1").unwrap().len(), 32);
        assert_eq!(IpPrefix::parse("10.1.0.0/8"), Err(PrefixError::HostBits));
        assert_eq!(
            IpPrefix::parse("10.0.0.0/33"),
            Err(PrefixError::Length { max: 32 })
        );
        assert_eq!(
            IpPrefix::parse("::/129"),
            Err(PrefixError::Length { max: 128 })
        );
        assert_eq!(
            IpPrefix::parse("::/08"),
            Err(PrefixError::Length { max: 128 })
        );
        assert_eq!(
            IpPrefix::parse("::1/08"),
            Err(PrefixError::Length { max: 128 })
        );
        assert_eq!(IpPrefix::parse("10.0.0/8"), Err(PrefixError::Address));
        assert_eq!(
            IpPrefix::v4(10, 1, 2, 3, 8),
            IpPrefix::parse("10.0.0.0/8").unwrap()
        );
        assert_eq!(
            IpPrefix::v6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1), 8),
            IpPrefix::parse("fd00::/8").unwrap()
        );
    }
}
