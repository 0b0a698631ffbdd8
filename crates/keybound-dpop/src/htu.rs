//! RFC 9449 §4.3 step 6: `htu` comparison after RFC 3986 §6.2.2/§6.2.3 normalization.
//!
//! Both the proof's `htu` claim and the URI the server expects are parsed as absolute
//! `http`/`https` URIs (RFC 9110 §4.2) and compared in normalized form, without query and
//! fragment (RFC 9449 §4.2):
//!
//! - scheme and host are lower-cased (RFC 3986 §6.2.2.1);
//! - percent-encoded unreserved characters are decoded and the hex digits of the remaining
//!   percent-encodings are upper-cased (RFC 3986 §6.2.2.1, §6.2.2.2);
//! - dot segments are removed (RFC 3986 §6.2.2.3, §5.2.4), also when spelled `%2E`;
//! - the default port (80 for `http`, 443 for `https`) and an empty port are removed, leading
//!   zeros of a port are dropped, and an empty path becomes `/` (RFC 3986 §6.2.3);
//! - query and fragment are syntax-checked, then dropped.
//!
//! Decisions beyond RFC 3986:
//!
//! - **userinfo is rejected** ([`HtuError::UserinfoNotAllowed`]): RFC 9110 §4.2.4 forbids it
//!   in `http(s)` URIs and tells recipients to treat it as an error, and a proof bound to
//!   `https://user@host/` has no business matching a request;
//! - an empty host is rejected ([`HtuError::MissingHost`], RFC 9110 §4.2.1);
//! - IPv6 literals are validated (RFC 3986 §3.2.2), kept in brackets and lower-cased, but not
//!   re-spelled (no RFC 5952 compression); `IPvFuture` and zone identifiers are rejected;
//! - only ASCII is accepted: internationalized hosts must arrive as A-labels (punycode) and
//!   other non-ASCII characters percent-encoded, as on the wire;
//! - inputs longer than [`MAX_HTU_LEN`] bytes are rejected ([`HtuError::TooLong`]).
//!
//! [`htu_matches`] never allocates and needs no buffer, so it has no length limit of its own
//! beyond [`MAX_HTU_LEN`]: it compares scheme, host and port byte by byte and the paths
//! segment by segment from the end, which is how dot-segment removal can be streamed.

use core::fmt;

/// Longest accepted input, in bytes (RFC 9449 §4.3 step 6 inputs are request URIs).
///
/// Both [`htu_matches`] and the normalizing functions reject longer inputs with
/// [`HtuError::TooLong`]; the normalized form of an accepted URI is at most one byte longer
/// than the input (an empty path becomes `/`).
pub const MAX_HTU_LEN: usize = 8192;

/// Why a string is not an acceptable `htu` (RFC 3986 §3 / RFC 9110 §4.2).
///
/// Offsets are byte positions in the rejected input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HtuError {
    /// The input is empty.
    Empty,
    /// The input is longer than [`MAX_HTU_LEN`].
    TooLong {
        /// Length of the input in bytes.
        len: usize,
        /// The limit, [`MAX_HTU_LEN`].
        max: usize,
    },
    /// No scheme: a relative reference (RFC 3986 §4.2), not an absolute URI.
    RelativeReference,
    /// The scheme is not RFC 3986 §3.1 syntax.
    InvalidScheme {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// A well-formed scheme other than `http` or `https`.
    UnsupportedScheme,
    /// The scheme is not followed by `//` and an authority (RFC 3986 §3.2).
    MissingAuthority,
    /// The authority has a userinfo part (`user@`), forbidden by RFC 9110 §4.2.4.
    UserinfoNotAllowed {
        /// Offset of the `@`.
        offset: usize,
    },
    /// The host is empty (RFC 9110 §4.2.1).
    MissingHost,
    /// A character that RFC 3986 §3.2.2 does not allow in a host name.
    InvalidHost {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// A bracketed host that is not an RFC 3986 §3.2.2 IPv6 address.
    InvalidIpLiteral {
        /// Offset of the opening `[`.
        offset: usize,
    },
    /// The port is not decimal digits, or exceeds 65535 (RFC 3986 §3.2.3).
    InvalidPort {
        /// Offset of the offending byte, or of the port's first digit when it is too large.
        offset: usize,
    },
    /// A `%` not followed by two hex digits (RFC 3986 §2.1).
    InvalidPercentEncoding {
        /// Offset of the `%`.
        offset: usize,
    },
    /// A character not allowed in path, query or fragment (RFC 3986 §3.3–3.5), including
    /// any non-ASCII byte.
    InvalidCharacter {
        /// Offset of the offending byte.
        offset: usize,
    },
    /// The caller's buffer is too small for the normalized form (`uri.len() + 1` always
    /// suffices).
    BufferTooSmall,
}

impl fmt::Display for HtuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("htu is empty"),
            Self::TooLong { len, max } => write!(f, "htu is {len} bytes long, more than {max}"),
            Self::RelativeReference => {
                f.write_str("htu is a relative reference, not an absolute URI")
            }
            Self::InvalidScheme { offset } => {
                write!(f, "invalid scheme character at byte {offset}")
            }
            Self::UnsupportedScheme => f.write_str("htu scheme is neither http nor https"),
            Self::MissingAuthority => f.write_str("htu has no authority (`//host`)"),
            Self::UserinfoNotAllowed { offset } => {
                write!(f, "htu has a userinfo part (`@` at byte {offset})")
            }
            Self::MissingHost => f.write_str("htu has an empty host"),
            Self::InvalidHost { offset } => write!(f, "invalid host character at byte {offset}"),
            Self::InvalidIpLiteral { offset } => {
                write!(f, "invalid IP literal starting at byte {offset}")
            }
            Self::InvalidPort { offset } => write!(f, "invalid port at byte {offset}"),
            Self::InvalidPercentEncoding { offset } => {
                write!(f, "invalid percent-encoding at byte {offset}")
            }
            Self::InvalidCharacter { offset } => {
                write!(f, "invalid URI character at byte {offset}")
            }
            Self::BufferTooSmall => f.write_str("buffer too small for the normalized htu"),
        }
    }
}

impl core::error::Error for HtuError {}

/// Normalizes an absolute `http(s)` URI for `htu` comparison (RFC 3986 §6.2.2, §6.2.3;
/// RFC 9449 §4.3 step 6); query and fragment are dropped.
///
/// `normalize_htu(normalize_htu(x)?)? == normalize_htu(x)?` for every accepted `x`.
///
/// ```
/// use keybound_dpop::htu::normalize_htu;
/// assert_eq!(
///     normalize_htu("HTTPS://Server.Example.COM:443/a/./b/../%7euser/%2f?q#f").unwrap(),
///     "https://server.example.com/a/~user/%2F"
/// );
/// ```
#[cfg(feature = "alloc")]
pub fn normalize_htu(uri: &str) -> Result<alloc::string::String, HtuError> {
    let parsed = parse(uri)?;
    let mut out = alloc::string::String::with_capacity(uri.len().saturating_add(1));
    write_normalized(&parsed, &mut out)?;
    Ok(out)
}

/// Normalizes like `normalize_htu` (feature `alloc`) into `buf`, without allocating (RFC 3986 §6.2.2, §6.2.3).
///
/// A buffer of `uri.len() + 1` bytes always suffices; a smaller one may fail with
/// [`HtuError::BufferTooSmall`].
pub fn normalize_htu_into<'b>(uri: &str, buf: &'b mut [u8]) -> Result<&'b str, HtuError> {
    let parsed = parse(uri)?;
    let mut sink = SliceSink { buf, len: 0 };
    write_normalized(&parsed, &mut sink)?;
    let SliceSink { buf, len } = sink;
    let bytes = buf.get(..len).ok_or(HtuError::BufferTooSmall)?;
    // Only ASCII is ever written, so this cannot fail.
    core::str::from_utf8(bytes).map_err(|_| HtuError::BufferTooSmall)
}

/// Whether a proof's `htu` and the expected request URI are equal after normalization
/// (RFC 9449 §4.3 step 6, RFC 3986 §6.2.2/§6.2.3); no allocation, no buffer.
///
/// Errors report the first input that is not an acceptable absolute `http(s)` URI,
/// `proof_htu` first. `htu_matches(a, b)` is `Ok(true)` exactly when
/// `normalize_htu(a) == normalize_htu(b)` and both succeed.
///
/// ```
/// use keybound_dpop::htu::htu_matches;
/// assert_eq!(htu_matches("https://EXAMPLE.com:443/%61pi/", "https://example.com/api/?x=1"), Ok(true));
/// assert_eq!(htu_matches("https://example.com/api", "http://example.com/api"), Ok(false));
/// ```
pub fn htu_matches(proof_htu: &str, expected: &str) -> Result<bool, HtuError> {
    htu_compare(proof_htu, expected).map_err(|(_, e)| e)
}

/// Which of the two URIs [`htu_compare`] found invalid.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HtuSide {
    /// The proof's `htu` claim.
    Proof,
    /// The URI the host expects (its public origin and the request path).
    Expected,
}

/// [`htu_matches`], saying which URI is invalid when one is: the host's expected URI is
/// checked first, so a host that builds an invalid URI learns it is its own (RFC 9449 §4.3
/// step 9 compares two valid URIs only).
pub fn htu_compare(proof_htu: &str, expected: &str) -> Result<bool, (HtuSide, HtuError)> {
    let b = parse(expected).map_err(|e| (HtuSide::Expected, e))?;
    // The same text normalizes the same way: validating it once decides (the usual case, a
    // client that signs the URI it requests).
    if proof_htu == expected {
        return Ok(true);
    }
    let a = parse(proof_htu).map_err(|e| (HtuSide::Proof, e))?;
    if a.scheme != b.scheme || a.port != b.port {
        return Ok(false);
    }
    // Both URIs are validated. When neither host nor path can change under normalization
    // (no percent-encoding, no segment starting with `.`), the normalized forms are the
    // components themselves, up to host case and an empty path standing for `/`.
    if a.is_plain() && b.is_plain() {
        return Ok(a.host.eq_ignore_ascii_case(b.host) && a.plain_path() == b.plain_path());
    }
    Ok(
        NormBytes::new(a.host, true).eq(NormBytes::new(b.host, true))
            && paths_equal(a.path, b.path),
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Scheme {
    Http,
    Https,
}

impl Scheme {
    fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A validated absolute `http(s)` URI, components still as written.
struct Parsed<'a> {
    scheme: Scheme,
    /// reg-name or bracketed IPv6 literal, percent-encodings validated.
    host: &'a [u8],
    /// `None` when absent, empty or the scheme's default.
    port: Option<u16>,
    /// Empty or starting with `/`, percent-encodings validated.
    path: &'a [u8],
}

impl Parsed<'_> {
    /// Whether host and path are in normal form but for host case: no percent-encoding
    /// anywhere, and no path segment starting with `.` (so no dot segment).
    fn is_plain(&self) -> bool {
        !self.host.contains(&b'%')
            && !self.path.contains(&b'%')
            && !self.path.windows(2).any(|w| w == b"/.")
    }

    /// The path of a plain URI in normal form (RFC 3986 §6.2.3: empty is `/`).
    fn plain_path(&self) -> &[u8] {
        if self.path.is_empty() {
            b"/"
        } else {
            self.path
        }
    }
}

/// Character classes of RFC 3986 §2.2–§3.5, one bit each, looked up in [`CLASS`].
const UNRESERVED: u8 = 1;
const SUB_DELIM: u8 = 2;
/// `:` and `@`, the rest of `pchar`.
const COLON_AT: u8 = 4;
const SLASH: u8 = 8;
const QUESTION: u8 = 16;

/// `reg-name` (without percent-encodings, validated separately).
const REG_NAME: u8 = UNRESERVED | SUB_DELIM;
/// `path-abempty` characters: `pchar` and `/`.
const PATH: u8 = UNRESERVED | SUB_DELIM | COLON_AT | SLASH;
/// `query` and `fragment` characters: `pchar`, `/` and `?`.
const QUERY: u8 = PATH | QUESTION;

/// The class bits of every byte (0 for bytes no URI component allows literally, non-ASCII
/// included).
#[expect(
    clippy::indexing_slicing,
    reason = "const-evaluated: a u8 index into 256 entries"
)]
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0usize;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            UNRESERVED
        } else if matches!(
            b,
            b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        ) {
            SUB_DELIM
        } else if matches!(b, b':' | b'@') {
            COLON_AT
        } else if b == b'/' {
            SLASH
        } else if b == b'?' {
            QUESTION
        } else {
            0
        };
        c += 1;
    }
    t
};

fn class(c: u8) -> u8 {
    CLASS.get(usize::from(c)).copied().unwrap_or(0)
}

fn is_unreserved(c: u8) -> bool {
    class(c) & UNRESERVED != 0
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Position of the first byte at or after `from` that satisfies `stop`, or `b.len()`.
fn find_from(b: &[u8], from: usize, stop: impl Fn(u8) -> bool) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| stop(c)))
        .map_or(b.len(), |p| from.saturating_add(p))
}

/// Checks `b[start..end]` against the class bits `allowed` plus percent-encodings
/// (RFC 3986 §2.1).
fn validate(
    b: &[u8],
    start: usize,
    end: usize,
    allowed: u8,
    bad: fn(usize) -> HtuError,
) -> Result<(), HtuError> {
    let mut i = start;
    while i < end {
        let Some(&c) = b.get(i) else { break };
        if class(c) & allowed != 0 {
            i = i.saturating_add(1);
        } else if c == b'%' {
            let h = b.get(i.saturating_add(1)).copied().and_then(hex_val);
            let l = b.get(i.saturating_add(2)).copied().and_then(hex_val);
            if h.is_none() || l.is_none() || i.saturating_add(2) >= end {
                return Err(HtuError::InvalidPercentEncoding { offset: i });
            }
            i = i.saturating_add(3);
        } else {
            return Err(bad(i));
        }
    }
    Ok(())
}

fn parse(uri: &str) -> Result<Parsed<'_>, HtuError> {
    let b = uri.as_bytes();
    if b.is_empty() {
        return Err(HtuError::Empty);
    }
    if b.len() > MAX_HTU_LEN {
        return Err(HtuError::TooLong {
            len: b.len(),
            max: MAX_HTU_LEN,
        });
    }

    // scheme ":" (RFC 3986 §3.1)
    let scheme_end = find_from(b, 0, |c| matches!(c, b':' | b'/' | b'?' | b'#'));
    if b.get(scheme_end) != Some(&b':') {
        return Err(HtuError::RelativeReference);
    }
    let scheme_bytes = b.get(..scheme_end).unwrap_or_default();
    for (i, &c) in scheme_bytes.iter().enumerate() {
        let ok = if i == 0 {
            c.is_ascii_alphabetic()
        } else {
            c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')
        };
        if !ok {
            return Err(HtuError::InvalidScheme { offset: i });
        }
    }
    if scheme_bytes.is_empty() {
        return Err(HtuError::InvalidScheme { offset: 0 });
    }
    let scheme = if scheme_bytes.eq_ignore_ascii_case(b"https") {
        Scheme::Https
    } else if scheme_bytes.eq_ignore_ascii_case(b"http") {
        Scheme::Http
    } else {
        return Err(HtuError::UnsupportedScheme);
    };

    // "//" authority (RFC 3986 §3.2)
    let after_scheme = scheme_end.saturating_add(1);
    if b.get(after_scheme..after_scheme.saturating_add(2)) != Some(b"//".as_slice()) {
        return Err(HtuError::MissingAuthority);
    }
    let auth_start = after_scheme.saturating_add(2);
    let auth_end = find_from(b, auth_start, |c| matches!(c, b'/' | b'?' | b'#'));
    let authority = b.get(auth_start..auth_end).unwrap_or_default();
    if let Some(at) = authority.iter().position(|&c| c == b'@') {
        return Err(HtuError::UserinfoNotAllowed {
            offset: auth_start.saturating_add(at),
        });
    }

    // host [ ":" port ] (RFC 3986 §3.2.2, §3.2.3)
    let (host, port_start) = if authority.first() == Some(&b'[') {
        let bad = HtuError::InvalidIpLiteral { offset: auth_start };
        let close = authority.iter().position(|&c| c == b']').ok_or(bad)?;
        let literal = authority.get(1..close).ok_or(bad)?;
        if !is_ipv6(literal) {
            return Err(bad);
        }
        let host = authority.get(..=close).ok_or(bad)?;
        let after = auth_start.saturating_add(close).saturating_add(1);
        match b.get(after) {
            _ if after == auth_end => (host, None),
            Some(b':') => (host, Some(after.saturating_add(1))),
            _ => return Err(HtuError::InvalidHost { offset: after }),
        }
    } else {
        let colon = authority.iter().position(|&c| c == b':');
        let host_end = colon.map_or(auth_end, |c| auth_start.saturating_add(c));
        let host = b.get(auth_start..host_end).unwrap_or_default();
        validate(b, auth_start, host_end, REG_NAME, |offset| {
            HtuError::InvalidHost { offset }
        })?;
        (
            host,
            colon.map(|c| auth_start.saturating_add(c).saturating_add(1)),
        )
    };
    if host.is_empty() {
        return Err(HtuError::MissingHost);
    }
    let port = match port_start {
        Some(start) => parse_port(b, start, auth_end)?,
        None => None,
    }
    .filter(|&p| p != scheme.default_port());

    // path-abempty, then "?" query and "#" fragment (RFC 3986 §3.3-§3.5)
    let path_end = find_from(b, auth_end, |c| matches!(c, b'?' | b'#'));
    validate(b, auth_end, path_end, PATH, |offset| {
        HtuError::InvalidCharacter { offset }
    })?;
    let path = b.get(auth_end..path_end).unwrap_or_default();
    let mut rest = path_end;
    if b.get(rest) == Some(&b'?') {
        let query_end = find_from(b, rest, |c| c == b'#');
        let start = rest.saturating_add(1);
        validate(b, start, query_end, QUERY, |offset| {
            HtuError::InvalidCharacter { offset }
        })?;
        rest = query_end;
    }
    if b.get(rest) == Some(&b'#') {
        let start = rest.saturating_add(1);
        validate(b, start, b.len(), QUERY, |offset| {
            HtuError::InvalidCharacter { offset }
        })?;
    }

    Ok(Parsed {
        scheme,
        host,
        port,
        path,
    })
}

/// `*DIGIT` between `start` and `end`; empty means no port (RFC 3986 §6.2.3).
fn parse_port(b: &[u8], start: usize, end: usize) -> Result<Option<u16>, HtuError> {
    let digits = b.get(start..end).unwrap_or_default();
    if digits.is_empty() {
        return Ok(None);
    }
    let mut value: u32 = 0;
    for (i, &c) in digits.iter().enumerate() {
        if !c.is_ascii_digit() {
            return Err(HtuError::InvalidPort {
                offset: start.saturating_add(i),
            });
        }
        value = value.saturating_mul(10).saturating_add(u32::from(c - b'0'));
        // Saturation keeps going up; anything past u16 is out of range.
        value = value.min(u32::from(u16::MAX) + 1);
    }
    u16::try_from(value)
        .map(Some)
        .map_err(|_| HtuError::InvalidPort { offset: start })
}

/// RFC 3986 §3.2.2 `IPv6address` (no zone identifier, no `IPvFuture`).
fn is_ipv6(s: &[u8]) -> bool {
    let double = s.windows(2).position(|w| w == b"::");
    match double {
        None => count_pieces(s, true) == Some(8),
        Some(i) => {
            let head = s.get(..i).unwrap_or_default();
            let tail = s.get(i.saturating_add(2)..).unwrap_or_default();
            if tail.windows(2).any(|w| w == b"::") {
                return false;
            }
            match (count_pieces(head, false), count_pieces(tail, true)) {
                (Some(h), Some(t)) => h.saturating_add(t) <= 7,
                _ => false,
            }
        }
    }
}

/// Number of 16-bit pieces in `h16 *(":" h16)`, the last one possibly an IPv4 address
/// counting two; `Some(0)` for empty input.
fn count_pieces(s: &[u8], v4_last: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut count = 0usize;
    let mut pieces = s.split(|&c| c == b':').peekable();
    while let Some(piece) = pieces.next() {
        let last = pieces.peek().is_none();
        if (1..=4).contains(&piece.len()) && piece.iter().all(u8::is_ascii_hexdigit) {
            count = count.saturating_add(1);
        } else if last && v4_last && is_ipv4(piece) {
            count = count.saturating_add(2);
        } else {
            return None;
        }
    }
    Some(count)
}

/// RFC 3986 §3.2.2 `IPv4address`: four `dec-octet`s without leading zeros.
fn is_ipv4(s: &[u8]) -> bool {
    let mut n = 0usize;
    for octet in s.split(|&c| c == b'.') {
        n = n.saturating_add(1);
        let ok = match octet {
            [d] => d.is_ascii_digit(),
            [b'1'..=b'9', d] => d.is_ascii_digit(),
            [b'1', d, e] => d.is_ascii_digit() && e.is_ascii_digit(),
            [b'2', b'0'..=b'4', e] => e.is_ascii_digit(),
            [b'2', b'5', b'0'..=b'5'] => true,
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    n == 4
}

/// The bytes of a validated component with percent-encodings normalized (RFC 3986 §6.2.2.1,
/// §6.2.2.2): unreserved characters decoded, the rest with upper-case hex; literal letters
/// (and decoded ones) lower-cased when `lower` (host names).
#[derive(Clone)]
struct NormBytes<'a> {
    rest: &'a [u8],
    pending: [u8; 2],
    npending: u8,
    lower: bool,
}

impl<'a> NormBytes<'a> {
    fn new(rest: &'a [u8], lower: bool) -> Self {
        Self {
            rest,
            pending: [0; 2],
            npending: 0,
            lower,
        }
    }

    fn case(&self, c: u8) -> u8 {
        if self.lower {
            c.to_ascii_lowercase()
        } else {
            c
        }
    }
}

impl Iterator for NormBytes<'_> {
    type Item = u8;

    fn next(&mut self) -> Option<u8> {
        match (self.npending, self.pending) {
            (2, [h, _]) => {
                self.npending = 1;
                return Some(h);
            }
            (1, [_, l]) => {
                self.npending = 0;
                return Some(l);
            }
            _ => {}
        }
        let (&c, tail) = self.rest.split_first()?;
        if c == b'%'
            && let [h, l, after @ ..] = tail
            && let (Some(hv), Some(lv)) = (hex_val(*h), hex_val(*l))
        {
            self.rest = after;
            let decoded = (hv << 4) | lv;
            if is_unreserved(decoded) {
                return Some(self.case(decoded));
            }
            self.pending = [h.to_ascii_uppercase(), l.to_ascii_uppercase()];
            self.npending = 2;
            return Some(b'%');
        }
        self.rest = tail;
        Some(self.case(c))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dot {
    None,
    One,
    Two,
}

/// Whether a raw path segment is `.` or `..` once unreserved characters are decoded.
fn dot_kind(seg: &[u8]) -> Dot {
    let mut it = NormBytes::new(seg, false);
    match (it.next(), it.next(), it.next()) {
        (Some(b'.'), None, _) => Dot::One,
        (Some(b'.'), Some(b'.'), None) => Dot::Two,
        _ => Dot::None,
    }
}

/// Path segments after the leading `/`; an empty path has one empty segment (path `/`).
fn segments(path: &[u8]) -> &[u8] {
    path.get(1..).unwrap_or_default()
}

fn is_slash(c: &u8) -> bool {
    *c == b'/'
}

/// Output segments of RFC 3986 §5.2.4 `remove_dot_segments`, last to first.
///
/// Read from the end, a `..` cancels the nearest normal segment before it that no other
/// `..` cancelled, which is the stack discipline of §5.2.4 run backwards; a final `.` or
/// `..` leaves an empty last segment (a trailing `/`).
struct RevSegments<'a> {
    iter: core::slice::RSplit<'a, u8, fn(&u8) -> bool>,
    skip: usize,
    trailing_empty: bool,
}

impl<'a> RevSegments<'a> {
    fn new(path: &'a [u8]) -> Self {
        let iter = segments(path).rsplit(is_slash as fn(&u8) -> bool);
        // Peek at a copy: the final segment must still be counted as a dot segment.
        let trailing_empty = iter
            .clone()
            .next()
            .is_some_and(|s| dot_kind(s) != Dot::None);
        Self {
            iter,
            skip: 0,
            trailing_empty,
        }
    }
}

impl<'a> Iterator for RevSegments<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.trailing_empty {
            self.trailing_empty = false;
            return Some(&[]);
        }
        loop {
            let seg = self.iter.next()?;
            match dot_kind(seg) {
                Dot::One => {}
                Dot::Two => self.skip = self.skip.saturating_add(1),
                Dot::None if self.skip > 0 => self.skip -= 1,
                Dot::None => return Some(seg),
            }
        }
    }
}

fn paths_equal(a: &[u8], b: &[u8]) -> bool {
    let mut x = RevSegments::new(a);
    let mut y = RevSegments::new(b);
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(s), Some(t)) => {
                if !NormBytes::new(s, false).eq(NormBytes::new(t, false)) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Output of the forward normalizer: a growable string or a caller's buffer.
trait Sink {
    fn push(&mut self, c: u8) -> Result<(), HtuError>;
    fn len(&self) -> usize;
    fn truncate(&mut self, len: usize);
    fn rfind_slash(&self, from: usize) -> Option<usize>;
}

#[cfg(feature = "alloc")]
impl Sink for alloc::string::String {
    fn push(&mut self, c: u8) -> Result<(), HtuError> {
        // Only ASCII is written; anything else would break the byte-level bookkeeping.
        if !c.is_ascii() {
            return Err(HtuError::InvalidCharacter { offset: 0 });
        }
        alloc::string::String::push(self, char::from(c));
        Ok(())
    }

    fn len(&self) -> usize {
        alloc::string::String::len(self)
    }

    fn truncate(&mut self, len: usize) {
        // Every byte is ASCII, so every index is a char boundary.
        if self.is_char_boundary(len) {
            alloc::string::String::truncate(self, len);
        }
    }

    fn rfind_slash(&self, from: usize) -> Option<usize> {
        let tail = self.as_bytes().get(from..)?;
        tail.iter()
            .rposition(|&c| c == b'/')
            .map(|p| from.saturating_add(p))
    }
}

struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Sink for SliceSink<'_> {
    fn push(&mut self, c: u8) -> Result<(), HtuError> {
        let slot = self.buf.get_mut(self.len).ok_or(HtuError::BufferTooSmall)?;
        *slot = c;
        self.len = self.len.saturating_add(1);
        Ok(())
    }

    fn len(&self) -> usize {
        self.len
    }

    fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    fn rfind_slash(&self, from: usize) -> Option<usize> {
        let tail = self.buf.get(from..self.len)?;
        tail.iter()
            .rposition(|&c| c == b'/')
            .map(|p| from.saturating_add(p))
    }
}

fn push_all(out: &mut impl Sink, bytes: impl IntoIterator<Item = u8>) -> Result<(), HtuError> {
    bytes.into_iter().try_for_each(|c| out.push(c))
}

fn write_normalized(p: &Parsed<'_>, out: &mut impl Sink) -> Result<(), HtuError> {
    push_all(out, p.scheme.as_str().bytes())?;
    push_all(out, *b"://")?;
    push_all(out, NormBytes::new(p.host, true))?;
    if let Some(port) = p.port {
        out.push(b':')?;
        let mut digits = [0u8; 5];
        let mut n = 0usize;
        let mut v = port;
        loop {
            if let Some(d) = digits.get_mut(n) {
                // `v % 10` is below 10, so the cast cannot truncate.
                *d = b'0' + (v % 10) as u8;
            }
            n = n.saturating_add(1);
            v /= 10;
            if v == 0 {
                break;
            }
        }
        push_all(out, digits.iter().take(n).rev().copied())?;
    }

    // RFC 3986 §5.2.4 on whole segments: the output always starts with "/".
    let path_start = out.len();
    let mut last_was_dot = false;
    for seg in segments(p.path).split(is_slash) {
        match dot_kind(seg) {
            Dot::One => last_was_dot = true,
            Dot::Two => {
                if let Some(slash) = out.rfind_slash(path_start) {
                    out.truncate(slash);
                }
                last_was_dot = true;
            }
            Dot::None => {
                out.push(b'/')?;
                push_all(out, NormBytes::new(seg, false))?;
                last_was_dot = false;
            }
        }
    }
    if last_was_dot {
        out.push(b'/')?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_grammar() {
        for ok in [
            "::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:1.2.3.4",
            "::ffff:10.0.0.1",
            "1::8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "abcd:EF01::",
        ] {
            assert!(is_ipv6(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7",
            "1::2::3",
            "12345::",
            "::1.2.3",
            "::01.2.3.4",
            "::256.1.1.1",
            "1.2.3.4::",
            "g::",
            "::1%25eth0",
            "1:2:3:4:5:6:7:8::",
            ":1::",
            "1::2:",
        ] {
            assert!(!is_ipv6(bad.as_bytes()), "{bad}");
        }
    }
}
