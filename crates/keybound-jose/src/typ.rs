//! The `typ` header as a media type (RFC 7515 §4.1.9): compared case-insensitively (RFC 2045
//! §5.1), with the `application/` prefix optional, as jose and oauth4webapi compare it.

use keybound_json::Str;

/// Whether a `typ` value names the media type `application/<expected>` (RFC 7515 §4.1.9):
/// `expected` (e.g. `dpop+jwt`, `at+jwt`) or `application/<expected>`, ASCII case-insensitive.
/// Escapes are resolved first (RFC 8259 §7); parameters (`;…`) are not accepted.
pub fn typ_matches(value: &Str<'_>, expected: &str) -> bool {
    const PREFIX: &str = "application/";
    let mut buf = [0u8; 64];
    let text = match value.as_plain() {
        Some(plain) => plain,
        None => match value.unescape_into(&mut buf) {
            Ok(text) => text,
            // Longer than any media type we expect.
            Err(_) => return false,
        },
    };
    let subtype = match text.get(..PREFIX.len()) {
        Some(head) if text.contains('/') => {
            if !head.eq_ignore_ascii_case(PREFIX) {
                return false;
            }
            text.get(PREFIX.len()..).unwrap_or_default()
        }
        // RFC 7515 §4.1.9: a value without '/' is read as if "application/" were prepended.
        _ if !text.contains('/') => text,
        _ => return false,
    };
    subtype.eq_ignore_ascii_case(expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keybound_json::Object;

    fn typ(json: &str) -> bool {
        let obj = Object::parse(json.as_bytes()).ok();
        let v = obj.and_then(|o| o.get("typ")).and_then(|v| v.as_str());
        v.is_some_and(|s| typ_matches(&s, "dpop+jwt"))
    }

    #[test]
    fn typ_is_a_media_type_compared_case_insensitively() {
        assert!(typ(r#"{"typ":"dpop+jwt"}"#));
        assert!(typ(r#"{"typ":"DPoP+JWT"}"#));
        assert!(typ(r#"{"typ":"application/dpop+jwt"}"#));
        assert!(typ(r#"{"typ":"Application/DPOP+jwt"}"#));
        assert!(typ(r#"{"typ":"dpop\u002bjwt"}"#));
    }

    #[test]
    fn rejects_other_types_prefixes_and_parameters() {
        assert!(!typ(r#"{"typ":"jwt"}"#));
        assert!(!typ(r#"{"typ":"text/dpop+jwt"}"#));
        assert!(!typ(r#"{"typ":"application/application/dpop+jwt"}"#));
        assert!(!typ(r#"{"typ":"dpop+jwt; charset=utf-8"}"#));
        assert!(!typ(r#"{"typ":"application/"}"#));
        assert!(!typ(r#"{"typ":"/dpop+jwt"}"#));
        assert!(!typ(r#"{"typ":" dpop+jwt"}"#));
        assert!(!typ(r#"{"typ":"dpop+jwt\u0000"}"#));
    }
}
