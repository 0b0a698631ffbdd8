//! JSON string output.

use core::fmt::{self, Write};

/// Writes `s` as a quoted JSON string (RFC 8259 §7): `"` and `\` escaped, control
/// characters as `\b \f \n \r \t` or `\u00XX`, everything else as is.
pub fn write_str(out: &mut impl Write, s: &str) -> fmt::Result {
    out.write_char('"')?;
    let mut plain_from = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0C => "\\f",
            0x00..=0x1F => "",
            _ => continue,
        };
        out.write_str(s.get(plain_from..i).unwrap_or(""))?;
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.write_str("\\u00")?;
            for nibble in [b >> 4, b & 0xF] {
                out.write_char(char::from(
                    HEX.get(usize::from(nibble)).copied().unwrap_or(b'0'),
                ))?;
            }
        } else {
            out.write_str(esc)?;
        }
        plain_from = i + 1;
    }
    out.write_str(s.get(plain_from..).unwrap_or(""))?;
    out.write_char('"')
}
