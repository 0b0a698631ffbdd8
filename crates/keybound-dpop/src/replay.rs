//! RFC 9449 §11.1: proof replay detection (`jti` check-and-insert).
