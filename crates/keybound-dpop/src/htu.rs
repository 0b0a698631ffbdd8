//! RFC 9449 §4.3 step 6: `htu` comparison after RFC 3986 §6.2.2/§6.2.3 normalization.
