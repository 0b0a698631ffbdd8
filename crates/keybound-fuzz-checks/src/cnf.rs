//! Fuzz checks for the cnf layer.

use keybound_cnf::{BindingError, CertThumbprint, Confirmation, JwkThumbprint, UnknownMembers};

/// Checks registered for fuzz targets of this layer.
pub const CHECKS: &[(&str, crate::Check)] = &[("cnf_parse", cnf_parse)];

/// No panic; a parsed claim survives `write_json` → `parse`; the strict policy accepts a
/// subset of what the lenient one does; thumbprint text that decodes is canonical; a claim
/// is exactly one of checkable, empty (unbound) or uncheckable, and an uncheckable one never
/// passes a binding check.
///
/// # Panics
///
/// When an invariant above does not hold: that is the finding.
pub fn cnf_parse(data: &[u8]) {
    if let Ok(s) = core::str::from_utf8(data)
        && let Ok(tp) = JwkThumbprint::from_b64(s)
    {
        assert_eq!(tp.to_string(), s, "accepted non-canonical thumbprint text");
        assert_eq!(
            CertThumbprint::from_b64(s).map(|c| *c.as_bytes()),
            Ok(*tp.as_bytes())
        );
    }
    let lenient = Confirmation::parse(data);
    let strict = Confirmation::parse_with(data, UnknownMembers::Reject);
    if let Ok(s) = &strict {
        assert_eq!(
            lenient.as_ref().ok(),
            Some(s),
            "strict accepts what lenient refuses"
        );
    }
    let Ok(cnf) = lenient else { return };
    let states = [cnf.is_bound(), cnf.is_empty(), cnf.is_uncheckable()];
    assert_eq!(states.iter().filter(|s| **s).count(), 1, "{states:?}");
    if cnf.is_uncheckable() {
        let any = JwkThumbprint::from_bytes([0; 32]);
        assert_eq!(cnf.check_jkt(&any), Err(BindingError::UnsupportedMethod));
        assert_eq!(
            cnf.check_x5t_s256(None),
            Err(BindingError::UnsupportedMethod)
        );
    }
    let text = cnf.to_json_string();
    let again = Confirmation::parse_with(text.as_bytes(), UnknownMembers::Reject)
        .unwrap_or_else(|e| panic!("written cnf does not parse ({e}): {text}"));
    assert_eq!(again.jkt(), cnf.jkt());
    assert_eq!(again.x5t_s256(), cnf.x5t_s256());
    if let Some(jkt) = cnf.jkt() {
        assert_eq!(cnf.check_jkt(jkt), Ok(()));
    }
    if let Some(x5t) = cnf.x5t_s256() {
        assert_eq!(cnf.check_x5t_s256(Some(x5t)), Ok(()));
    }
}
