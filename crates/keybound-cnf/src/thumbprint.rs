//! SHA-256 thumbprint newtypes: RFC 7638 / RFC 9449 §6.1 `jkt` and RFC 8705 §3.1 `x5t#S256`.

use core::fmt;

use base64ct::{Base64UrlUnpadded, Encoding};

/// Length of a SHA-256 thumbprint in bytes.
pub const THUMBPRINT_LEN: usize = 32;
/// Length of a SHA-256 thumbprint in unpadded base64url (RFC 7515 §2), in characters.
pub const THUMBPRINT_B64_LEN: usize = 43;

/// Why a thumbprint text was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThumbprintError {
    /// The text is not 43 characters long (a SHA-256 value in unpadded base64url).
    Length {
        /// Length of the text in bytes.
        actual: usize,
    },
    /// The text is not canonical unpadded base64url (RFC 4648 §5; RFC 7515 §2): a character
    /// outside the alphabet, padding, or non-zero trailing bits.
    Base64,
}

impl fmt::Display for ThumbprintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { actual } => write!(
                f,
                "SHA-256 thumbprint must be {THUMBPRINT_B64_LEN} base64url characters, got {actual}"
            ),
            Self::Base64 => f.write_str("SHA-256 thumbprint is not canonical unpadded base64url"),
        }
    }
}

impl core::error::Error for ThumbprintError {}

fn decode(s: &str) -> Result<[u8; THUMBPRINT_LEN], ThumbprintError> {
    if s.len() != THUMBPRINT_B64_LEN {
        return Err(ThumbprintError::Length { actual: s.len() });
    }
    let mut out = [0u8; THUMBPRINT_LEN];
    // base64ct re-encodes the last block, so non-zero trailing bits are refused too.
    match Base64UrlUnpadded::decode(s, &mut out) {
        Ok(d) if d.len() == THUMBPRINT_LEN => Ok(out),
        _ => Err(ThumbprintError::Base64),
    }
}

fn encode<'b>(bytes: &[u8; THUMBPRINT_LEN], buf: &'b mut [u8; THUMBPRINT_B64_LEN]) -> &'b str {
    // 32 bytes always fit 43 characters; the fallback is unreachable.
    Base64UrlUnpadded::encode(bytes, buf).unwrap_or("")
}

macro_rules! thumbprint_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        ///
        /// Equality is constant time; `Display` and `Debug` show unpadded base64url.
        #[derive(Clone, Copy)]
        pub struct $name([u8; THUMBPRINT_LEN]);

        impl $name {
            #[doc = concat!("The ", $what, " from its 32 SHA-256 bytes.")]
            pub const fn from_bytes(bytes: [u8; THUMBPRINT_LEN]) -> Self {
                Self(bytes)
            }

            /// The 32 SHA-256 bytes.
            pub fn as_bytes(&self) -> &[u8; THUMBPRINT_LEN] {
                &self.0
            }

            #[doc = concat!("Parses the ", $what, " from exactly 43 characters of canonical unpadded base64url (RFC 7515 §2).")]
            pub fn from_b64(s: &str) -> Result<Self, ThumbprintError> {
                decode(s).map(Self)
            }

            /// Writes the unpadded base64url form (RFC 7515 §2) into `buf` and returns it.
            pub fn to_b64<'b>(&self, buf: &'b mut [u8; THUMBPRINT_B64_LEN]) -> &'b str {
                encode(&self.0, buf)
            }

            /// The unpadded base64url form (RFC 7515 §2).
            #[cfg(feature = "alloc")]
            pub fn to_b64_string(&self) -> alloc::string::String {
                let mut buf = [0u8; THUMBPRINT_B64_LEN];
                alloc::string::String::from(self.to_b64(&mut buf))
            }

            /// Constant-time equality (no early exit on the first differing byte).
            pub fn ct_eq(&self, other: &Self) -> bool {
                crate::ct_eq(&self.0, &other.0)
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                self.ct_eq(other)
            }
        }

        impl Eq for $name {}

        impl core::hash::Hash for $name {
            // Consistent with the constant-time `PartialEq`: equal bytes, equal hashes.
            fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
                self.0.hash(state);
            }
        }

        impl From<[u8; THUMBPRINT_LEN]> for $name {
            fn from(bytes: [u8; THUMBPRINT_LEN]) -> Self {
                Self(bytes)
            }
        }

        impl core::str::FromStr for $name {
            type Err = ThumbprintError;
            fn from_str(s: &str) -> Result<Self, ThumbprintError> {
                Self::from_b64(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; THUMBPRINT_B64_LEN];
                f.write_str(self.to_b64(&mut buf))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; THUMBPRINT_B64_LEN];
                f.debug_tuple(stringify!($name)).field(&self.to_b64(&mut buf)).finish()
            }
        }

        #[cfg(feature = "serde")]
        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; THUMBPRINT_B64_LEN];
                serializer.serialize_str(self.to_b64(&mut buf))
            }
        }

        #[cfg(feature = "serde")]
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a 43-character base64url SHA-256 thumbprint")
                    }
                    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_b64(v).map_err(E::custom)
                    }
                }
                deserializer.deserialize_str(V)
            }
        }
    };
}

thumbprint_type!(
    /// RFC 7638 SHA-256 JWK thumbprint, as carried in RFC 9449 §6.1 `cnf.jkt` and `dpop_jkt`.
    JwkThumbprint,
    "JWK thumbprint"
);

thumbprint_type!(
    /// RFC 8705 §3.1 certificate thumbprint: SHA-256 of the DER certificate, `cnf."x5t#S256"`.
    CertThumbprint,
    "certificate thumbprint"
);
