//! `htu` normalization and comparison (RFC 9449 §4.3 step 6, RFC 3986 §6.2.2/§6.2.3).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    missing_docs
)]
#![cfg(feature = "alloc")]

use keybound_dpop::htu::{
    HtuError, HtuSide, MAX_HTU_LEN, htu_compare, htu_matches, normalize_htu, normalize_htu_into,
};
use proptest::prelude::*;

fn norm(s: &str) -> String {
    normalize_htu(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> HtuError {
    match normalize_htu(s) {
        Ok(n) => panic!("{s:?} normalized to {n:?}, expected an error"),
        Err(e) => {
            // The streaming comparison must reject exactly the same inputs.
            assert_eq!(htu_matches(s, "https://a/"), Err(e), "{s:?}");
            assert_eq!(htu_matches("https://a/", s), Err(e), "{s:?}");
            e
        }
    }
}

// ---- normalization rules -------------------------------------------------------------

#[test]
fn rfc9449_example_htu_is_already_normal() {
    assert_eq!(
        norm("https://server.example.com/token"),
        "https://server.example.com/token"
    );
    assert_eq!(
        htu_matches(
            "https://server.example.com/token",
            "https://server.example.com/token"
        ),
        Ok(true)
    );
}

#[test]
fn lowercases_scheme_and_host() {
    assert_eq!(
        norm("HTTPS://Server.EXAMPLE.com/Path"),
        "https://server.example.com/Path"
    );
    assert_eq!(norm("hTtP://A/"), "http://a/");
}

#[test]
fn keeps_path_case() {
    assert_eq!(htu_matches("https://a/Token", "https://a/token"), Ok(false));
}

#[test]
fn removes_default_ports() {
    assert_eq!(norm("https://a:443/x"), "https://a/x");
    assert_eq!(norm("http://a:80/x"), "http://a/x");
}

#[test]
fn keeps_other_ports_including_the_other_schemes_default() {
    assert_eq!(norm("https://a:80/x"), "https://a:80/x");
    assert_eq!(norm("http://a:443/x"), "http://a:443/x");
    assert_eq!(norm("https://a:8443/x"), "https://a:8443/x");
    assert_eq!(norm("https://a:0/"), "https://a:0/");
    assert_eq!(norm("https://a:65535/"), "https://a:65535/");
    assert_eq!(htu_matches("https://a:8443/", "https://a/"), Ok(false));
}

#[test]
fn removes_empty_port() {
    assert_eq!(norm("https://a:/x"), "https://a/x");
    assert_eq!(norm("https://a:"), "https://a/");
}

#[test]
fn drops_leading_zeros_of_port() {
    assert_eq!(norm("https://a:0443/"), "https://a/");
    assert_eq!(norm("https://a:008080/"), "https://a:8080/");
    assert_eq!(
        norm("https://a:000000000000000000000000000001/"),
        "https://a:1/"
    );
}

#[test]
fn empty_path_becomes_slash() {
    assert_eq!(norm("https://a"), "https://a/");
    assert_eq!(norm("https://a?q"), "https://a/");
    assert_eq!(norm("https://a#f"), "https://a/");
    assert_eq!(htu_matches("https://a", "https://a/"), Ok(true));
}

#[test]
fn removes_dot_segments() {
    // RFC 3986 §5.2.4 worked example and §5.4 style cases.
    assert_eq!(norm("http://a/b/c/./../../g"), "http://a/g");
    assert_eq!(norm("http://a/a/b/c/./../../g"), "http://a/a/g");
    assert_eq!(norm("https://a/./x"), "https://a/x");
    assert_eq!(norm("https://a/x/."), "https://a/x/");
    assert_eq!(norm("https://a/x/.."), "https://a/");
    assert_eq!(norm("https://a/x/y/.."), "https://a/x/");
    assert_eq!(norm("https://a/.."), "https://a/");
    assert_eq!(norm("https://a/../../x"), "https://a/x");
    assert_eq!(norm("https://a/x/../../y"), "https://a/y");
    assert_eq!(norm("https://a/."), "https://a/");
    assert_eq!(norm("https://a/x//../y"), "https://a/x/y");
    assert_eq!(norm("https://a/.../x"), "https://a/.../x");
    assert_eq!(norm("https://a/..x/.y"), "https://a/..x/.y");
}

#[test]
fn removes_percent_encoded_dot_segments() {
    assert_eq!(norm("https://a/x/%2e/y"), "https://a/x/y");
    assert_eq!(norm("https://a/x/%2E%2e/y"), "https://a/y");
    assert_eq!(norm("https://a/x/.%2E/y"), "https://a/y");
    assert_eq!(norm("https://a/x/%2e"), "https://a/x/");
}

#[test]
fn keeps_empty_segments() {
    assert_eq!(norm("https://a//x//"), "https://a//x//");
    assert_eq!(htu_matches("https://a//x", "https://a/x"), Ok(false));
}

#[test]
fn trailing_slash_is_significant() {
    assert_eq!(htu_matches("https://a/x/", "https://a/x"), Ok(false));
}

#[test]
fn decodes_percent_encoded_unreserved_characters() {
    assert_eq!(
        norm("https://a/%7Euser/%41%2d%2E%5f%30"),
        "https://a/~user/A-._0"
    );
    assert_eq!(norm("https://a/%7e"), "https://a/~");
}

#[test]
fn uppercases_hex_of_other_percent_encodings() {
    assert_eq!(
        norm("https://a/%2f%3a%c3%a9%20"),
        "https://a/%2F%3A%C3%A9%20"
    );
    assert_eq!(
        htu_matches("https://a/%c3%a9", "https://a/%C3%A9"),
        Ok(true)
    );
}

#[test]
fn keeps_encoded_reserved_characters_distinct_from_literal_ones() {
    assert_eq!(htu_matches("https://a/x%2Fy", "https://a/x/y"), Ok(false));
    assert_eq!(norm("https://a/x%2F..%2Fy"), "https://a/x%2F..%2Fy");
}

#[test]
fn normalizes_host_percent_encodings_and_case() {
    assert_eq!(norm("https://%41%62c.example/"), "https://abc.example/");
    assert_eq!(norm("https://a%c3%a9.example/"), "https://a%C3%A9.example/");
    assert_eq!(
        norm("https://Sub-Delims!$&'()*+,;=/"),
        "https://sub-delims!$&'()*+,;=/"
    );
}

#[test]
fn drops_query_and_fragment() {
    assert_eq!(norm("https://a/x?y=1&z=%2f#frag/?x"), "https://a/x");
    assert_eq!(htu_matches("https://a/x?y=1", "https://a/x#z"), Ok(true));
    assert_eq!(norm("https://a/x?"), "https://a/x");
    assert_eq!(norm("https://a/x#"), "https://a/x");
}

#[test]
fn scheme_and_port_distinguish() {
    assert_eq!(htu_matches("https://a/x", "http://a/x"), Ok(false));
    assert_eq!(htu_matches("https://a:444/x", "https://a:445/x"), Ok(false));
    assert_eq!(htu_matches("https://a/x", "https://b/x"), Ok(false));
}

#[test]
fn keeps_ipv6_literals_bracketed_and_lowercased() {
    assert_eq!(norm("https://[2001:DB8::1]/x"), "https://[2001:db8::1]/x");
    assert_eq!(
        norm("https://[::FFFF:10.0.0.1]:443/"),
        "https://[::ffff:10.0.0.1]/"
    );
    assert_eq!(norm("http://[::1]:8080"), "http://[::1]:8080/");
    // Not re-spelled per RFC 5952: different spellings of one address stay different.
    assert_eq!(htu_matches("https://[::1]/", "https://[0::1]/"), Ok(false));
}

#[test]
fn normalize_into_buffer_matches_allocating_form() {
    for s in [
        "HTTPS://A:443",
        "https://a/b/../c?d",
        "http://[::1]:80/%7e/",
    ] {
        let mut buf = [0u8; 64];
        assert_eq!(normalize_htu_into(s, &mut buf).unwrap(), norm(s));
        // uri.len() + 1 always suffices.
        let mut exact = vec![0u8; s.len() + 1];
        assert_eq!(normalize_htu_into(s, &mut exact).unwrap(), norm(s));
    }
}

#[test]
fn normalize_into_reports_small_buffer() {
    let mut buf = [0u8; 8];
    assert_eq!(
        normalize_htu_into("https://example.com/", &mut buf),
        Err(HtuError::BufferTooSmall)
    );
}

// ---- rejections ----------------------------------------------------------------------

#[test]
fn rejects_empty_input() {
    assert_eq!(err(""), HtuError::Empty);
}

#[test]
fn rejects_overlong_input() {
    let long = format!("https://a/{}", "x".repeat(MAX_HTU_LEN));
    assert_eq!(
        err(&long),
        HtuError::TooLong {
            len: long.len(),
            max: MAX_HTU_LEN
        }
    );
    let just = format!("https://a/{}", "x".repeat(MAX_HTU_LEN - "https://a/".len()));
    assert_eq!(just.len(), MAX_HTU_LEN);
    assert!(normalize_htu(&just).is_ok());
}

#[test]
fn rejects_relative_references() {
    for s in [
        "/token",
        "token",
        "//server.example.com/token",
        "?q",
        "#f",
        "a/b:c",
        ".",
    ] {
        assert_eq!(err(s), HtuError::RelativeReference, "{s}");
    }
}

#[test]
fn rejects_invalid_scheme() {
    assert_eq!(err(":x"), HtuError::InvalidScheme { offset: 0 });
    assert_eq!(err("1http://a/"), HtuError::InvalidScheme { offset: 0 });
    assert_eq!(err("ht_tp://a/"), HtuError::InvalidScheme { offset: 2 });
    assert_eq!(err("ht tp://a/"), HtuError::InvalidScheme { offset: 2 });
}

#[test]
fn rejects_other_schemes() {
    for s in [
        "ftp://a/",
        "wss://a/",
        "urn:ietf:x",
        "https+x://a/",
        "server.example.com:443/x",
    ] {
        assert_eq!(err(s), HtuError::UnsupportedScheme, "{s}");
    }
}

#[test]
fn rejects_missing_authority() {
    for s in ["https:", "https:/x", "https:x", "http:?q"] {
        assert_eq!(err(s), HtuError::MissingAuthority, "{s}");
    }
}

#[test]
fn rejects_userinfo() {
    assert_eq!(
        err("https://user@a/"),
        HtuError::UserinfoNotAllowed { offset: 12 }
    );
    assert_eq!(
        err("https://u:p@a/"),
        HtuError::UserinfoNotAllowed { offset: 11 }
    );
    assert_eq!(
        err("https://@a/"),
        HtuError::UserinfoNotAllowed { offset: 8 }
    );
}

#[test]
fn rejects_missing_host() {
    for s in [
        "https://",
        "https:///x",
        "https://:443/",
        "https://?q",
        "https://#f",
        "https://:",
    ] {
        assert_eq!(err(s), HtuError::MissingHost, "{s}");
    }
}

#[test]
fn rejects_invalid_host_characters() {
    assert_eq!(
        err("https://ex ample/"),
        HtuError::InvalidHost { offset: 10 }
    );
    assert_eq!(err("https://a\\b/"), HtuError::InvalidHost { offset: 9 });
    assert_eq!(err("https://é/"), HtuError::InvalidHost { offset: 8 });
    assert_eq!(err("https://a[b/"), HtuError::InvalidHost { offset: 9 });
    assert_eq!(err("https://[::1]x/"), HtuError::InvalidHost { offset: 13 });
}

#[test]
fn rejects_invalid_ip_literals() {
    for s in [
        "https://[::1/",
        "https://[]/",
        "https://[::1::2]/",
        "https://[1:2:3:4:5:6:7:8:9]/",
        "https://[v1.fe]/",
        "https://[::1%25eth0]/",
        "https://[192.0.2.1]/",
        "https://[::01.2.3.4]/",
    ] {
        assert_eq!(err(s), HtuError::InvalidIpLiteral { offset: 8 }, "{s}");
    }
}

#[test]
fn rejects_invalid_ports() {
    assert_eq!(err("https://a:12a/"), HtuError::InvalidPort { offset: 12 });
    assert_eq!(err("https://a:-1/"), HtuError::InvalidPort { offset: 10 });
    assert_eq!(
        err("https://a:65536/"),
        HtuError::InvalidPort { offset: 10 }
    );
    assert_eq!(
        err("https://a:99999999999999999999999/"),
        HtuError::InvalidPort { offset: 10 }
    );
    assert_eq!(err("https://a:1:2/"), HtuError::InvalidPort { offset: 11 });
    assert_eq!(
        err("https://[::1]:x/"),
        HtuError::InvalidPort { offset: 14 }
    );
}

#[test]
fn rejects_bad_percent_encoding() {
    assert_eq!(
        err("https://a/%"),
        HtuError::InvalidPercentEncoding { offset: 10 }
    );
    assert_eq!(
        err("https://a/%2"),
        HtuError::InvalidPercentEncoding { offset: 10 }
    );
    assert_eq!(
        err("https://a/%zz"),
        HtuError::InvalidPercentEncoding { offset: 10 }
    );
    assert_eq!(
        err("https://a/%4?x"),
        HtuError::InvalidPercentEncoding { offset: 10 }
    );
    assert_eq!(
        err("https://a%g0/"),
        HtuError::InvalidPercentEncoding { offset: 9 }
    );
    assert_eq!(
        err("https://a/?%"),
        HtuError::InvalidPercentEncoding { offset: 11 }
    );
    assert_eq!(
        err("https://a/#%1"),
        HtuError::InvalidPercentEncoding { offset: 11 }
    );
}

#[test]
fn rejects_invalid_characters_in_path_query_and_fragment() {
    assert_eq!(
        err("https://a/b c"),
        HtuError::InvalidCharacter { offset: 11 }
    );
    assert_eq!(
        err("https://a/é"),
        HtuError::InvalidCharacter { offset: 10 }
    );
    assert_eq!(
        err("https://a/<x>"),
        HtuError::InvalidCharacter { offset: 10 }
    );
    assert_eq!(
        err("https://a/[x]"),
        HtuError::InvalidCharacter { offset: 10 }
    );
    assert_eq!(
        err("https://a/\\x"),
        HtuError::InvalidCharacter { offset: 10 }
    );
    assert_eq!(
        err("https://a/x\ny"),
        HtuError::InvalidCharacter { offset: 11 }
    );
    assert_eq!(
        err("https://a/?x y"),
        HtuError::InvalidCharacter { offset: 12 }
    );
    assert_eq!(
        err("https://a/#x#y"),
        HtuError::InvalidCharacter { offset: 12 }
    );
}

#[test]
fn compare_names_the_invalid_side_host_uri_first() {
    // The host's URI is checked first: a host that builds an invalid URI learns it is its own.
    assert_eq!(
        htu_compare("", "ftp://x"),
        Err((HtuSide::Expected, HtuError::UnsupportedScheme))
    );
    assert_eq!(htu_matches("", "ftp://x"), Err(HtuError::UnsupportedScheme));
    assert_eq!(
        htu_compare("", "https://a/"),
        Err((HtuSide::Proof, HtuError::Empty))
    );
    assert_eq!(
        htu_compare("https://a/{", "https://a/"),
        Err((HtuSide::Proof, HtuError::InvalidCharacter { offset: 10 }))
    );
    assert_eq!(
        htu_compare("https://a/", "https://a/{"),
        Err((HtuSide::Expected, HtuError::InvalidCharacter { offset: 10 }))
    );
}

#[test]
fn errors_display_and_are_std_errors() {
    let e: &dyn core::error::Error = &HtuError::InvalidPort { offset: 3 };
    assert_eq!(e.to_string(), "invalid port at byte 3");
    assert!(!HtuError::BufferTooSmall.to_string().is_empty());
}

// ---- properties ----------------------------------------------------------------------

/// Components of a URI, to be spelled in many equivalent ways.
#[derive(Debug, Clone)]
struct Uri {
    https: bool,
    host: String,
    port: Option<u16>,
    segs: Vec<String>,
}

fn seg_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._~!$&'()*+,;=:@-]{0,6}",
        Just(String::new()),
        Just("%2F".to_owned()),
        Just("%C3%A9".to_owned()),
        Just("a%20b".to_owned()),
    ]
}

fn uri_strategy() -> impl Strategy<Value = Uri> {
    (
        any::<bool>(),
        prop_oneof![
            "[a-z0-9-]{1,10}(\\.[a-z0-9-]{1,6}){0,2}",
            Just("[::1]".to_owned()),
            Just("[2001:db8::a]".to_owned())
        ],
        prop_oneof![
            Just(None),
            Just(Some(8443u16)),
            Just(Some(1)),
            Just(Some(65535))
        ],
        proptest::collection::vec(seg_strategy(), 1..5),
    )
        .prop_map(|(https, host, port, segs)| {
            // Literal "." and ".." would be dot segments: the canonical form has none.
            let segs = segs
                .into_iter()
                .filter(|s| s != "." && s != "..")
                .collect::<Vec<_>>();
            let segs = if segs.is_empty() {
                vec![String::new()]
            } else {
                segs
            };
            Uri {
                https,
                host,
                port,
                segs,
            }
        })
}

/// Tiny deterministic generator for spelling choices.
struct Choices(u64);
impl Choices {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
    fn flip(&mut self) -> bool {
        self.next(2) == 1
    }
}

fn pct(c: u8, r: &mut Choices) -> String {
    let s = format!("%{c:02X}");
    if r.flip() { s.to_lowercase() } else { s }
}

fn respell_component(s: &str, host: bool, r: &mut Choices) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            let hex = &s[i + 1..i + 3];
            out.push('%');
            out.push_str(&if r.flip() {
                hex.to_lowercase()
            } else {
                hex.to_uppercase()
            });
            i += 3;
            continue;
        }
        let unreserved = c.is_ascii_alphanumeric() || b"-._~".contains(&c);
        let c = if host && r.flip() {
            c.to_ascii_uppercase()
        } else {
            c
        };
        if unreserved && !s.starts_with('[') && r.next(4) == 0 {
            out.push_str(&pct(c, r));
        } else {
            out.push(char::from(c));
        }
        i += 1;
    }
    out
}

fn spell(u: &Uri, r: &mut Choices) -> String {
    let mut s = String::new();
    let scheme = if u.https { "https" } else { "http" };
    for c in scheme.chars() {
        s.push(if r.flip() { c.to_ascii_uppercase() } else { c });
    }
    s.push_str("://");
    if u.host.starts_with('[') {
        s.push_str(&if r.flip() {
            u.host.to_uppercase()
        } else {
            u.host.clone()
        });
    } else {
        s.push_str(&respell_component(&u.host, true, r));
    }
    match u.port {
        Some(p) => {
            s.push(':');
            s.push_str(&"0".repeat(r.next(3) as usize));
            s.push_str(&p.to_string());
        }
        None => match r.next(3) {
            0 => {}
            1 => s.push(':'),
            _ => s.push_str(if u.https { ":443" } else { ":80" }),
        },
    }
    if u.segs == [String::new()] && r.flip() {
        // Empty path spelled as nothing at all.
    } else {
        for (i, seg) in u.segs.iter().enumerate() {
            // Noise that dot-segment removal erases, only before a real segment.
            match r.next(6) {
                0 => s.push_str("/."),
                1 => s.push_str("/%2e"),
                2 => s.push_str("/zz/.."),
                3 => s.push_str("/q%2F/x/../%2E%2e"),
                4 if i == 0 => s.push_str("/../.."),
                _ => {}
            }
            s.push('/');
            s.push_str(&respell_component(seg, false, r));
        }
    }
    match r.next(4) {
        0 => s.push_str("?a=b/c?%2f"),
        1 => s.push_str("#frag"),
        2 => s.push_str("?#"),
        _ => {}
    }
    s
}

fn canonical(u: &Uri) -> String {
    let mut s = format!("{}://{}", if u.https { "https" } else { "http" }, u.host);
    if let Some(p) = u.port {
        s.push_str(&format!(":{p}"));
    }
    // Generated segments hold unreserved and sub-delims literally and upper-case encodings
    // of other octets, which is already the normal form.
    for seg in &u.segs {
        s.push('/');
        s.push_str(seg);
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn equivalent_spellings_compare_equal(u in uri_strategy(), a in any::<u64>(), b in any::<u64>()) {
        let x = spell(&u, &mut Choices(a | 1));
        let y = spell(&u, &mut Choices(b | 1));
        prop_assert_eq!(htu_matches(&x, &y), Ok(true), "{} vs {}", x, y);
        prop_assert_eq!(normalize_htu(&x).unwrap(), canonical(&u));
        prop_assert_eq!(normalize_htu(&y).unwrap(), canonical(&u));
    }

    #[test]
    fn normalization_is_idempotent(u in uri_strategy(), a in any::<u64>()) {
        let x = spell(&u, &mut Choices(a | 1));
        let n = normalize_htu(&x).unwrap();
        prop_assert_eq!(normalize_htu(&n).unwrap(), n.clone());
        prop_assert_eq!(htu_matches(&n, &x), Ok(true));
        prop_assert!(n.len() <= x.len() + 1);
    }

    #[test]
    fn arbitrary_strings_never_panic_and_agree(
        x in "(https?|HTTP|ftp)?:?(//)?[a-zA-Z0-9.:@\\[\\]%/?#~_!-]{0,24}",
        y in "(https?://a)?[./%2eE]{0,12}",
    ) {
        let nx = normalize_htu(&x);
        if let Ok(n) = &nx {
            prop_assert_eq!(&normalize_htu(n), &Ok(n.clone()));
            prop_assert_eq!(htu_matches(&x, &x), Ok(true));
        } else {
            prop_assert_eq!(htu_matches(&x, &x), nx.clone().map(|_| true));
        }
        // The streaming comparison agrees with comparing normalized strings.
        if let (Ok(a), Ok(b)) = (&nx, normalize_htu(&y)) {
            prop_assert_eq!(htu_matches(&x, &y), Ok(*a == b));
        }
    }

    #[test]
    fn dot_heavy_paths_agree_with_normalized_comparison(
        p in "(/(\\.|\\.\\.|%2e|%2E%2e|a|b|))*",
        q in "(/(\\.|\\.\\.|%2e|a|b|))*",
    ) {
        let x = format!("https://h{p}");
        let y = format!("https://h{q}");
        let (nx, ny) = (normalize_htu(&x).unwrap(), normalize_htu(&y).unwrap());
        prop_assert_eq!(htu_matches(&x, &y), Ok(nx == ny), "{} {} -> {} {}", x, y, nx, ny);
        prop_assert_eq!(normalize_htu(&nx).unwrap(), nx);
    }
}

/// `htu_matches` compares URIs without percent-encodings or dot segments directly (host
/// case-insensitively, empty path as `/`); the answer must be the normalized comparison's, for
/// plain URIs and for each of them against a spelling that takes the slow path.
#[test]
fn plain_uri_comparison_agrees_with_normalized_comparison() {
    let uris = [
        "https://example.com",
        "https://example.com/",
        "https://EXAMPLE.com/",
        "https://example.com:443/",
        "https://example.com:8443/",
        "http://example.com/",
        "https://example.com/a",
        "https://example.com/a/",
        "https://example.com/A",
        "https://example.com//a",
        "https://example.com/a?q=1#f",
        "https://[::1]/a",
        "https://[::1]:443/a",
        "https://[::A]/a",
        "https://[::a]/a",
        "https://example.com/%61",
        "https://example.com/./a",
        "https://example.com/b/../a",
        "https://example.com/.well-known/x",
        "https://ex%41mple.com/a",
        "https://example.com/a/.",
        "https://example.com/a%2F",
    ];
    for a in uris {
        for b in uris {
            assert_eq!(htu_matches(a, b), Ok(norm(a) == norm(b)), "{a:?} vs {b:?}");
        }
    }
}
