//! RFC 9449 §8/§9: server-provided nonces (`DPoP-Nonce`).
