//! PEM (RFC 7468) certificate text, decoded without allocation.
//!
//! Choices, all explicit:
//! - exactly one block where one certificate is expected ([`decode_pem_into`]); a second
//!   block is [`CertError::PemMultipleBlocks`] — iterate with [`pem_blocks`] for chains;
//! - the label must be `CERTIFICATE` (RFC 7468 §5.1); `TRUSTED CERTIFICATE`, `X509
//!   CERTIFICATE`, keys and CSRs are [`CertError::PemLabel`];
//! - only whitespace may surround the block (no explanatory text, RFC 7468 §5.2 allows it but
//!   a forwarded header never needs it);
//! - inside the body any whitespace (SP, HTAB, CR, LF) is skipped, so lines folded into spaces
//!   by a proxy still decode; the base64 itself is strict (padding, canonical bits).

use core::ops::Range;

use crate::b64::{self, Padding};
use crate::cert::{CertDer, MAX_CERT_DER_LEN};
use crate::error::CertError;

const BEGIN: &[u8] = b"-----BEGIN ";
const END: &[u8] = b"-----END ";
const DASHES: &[u8] = b"-----";
const CERT_LABEL: &[u8] = b"CERTIFICATE";
const MAX_LABEL_LEN: usize = 64;

/// Largest PEM text accepted for one certificate (base64 of [`MAX_CERT_DER_LEN`] plus lines).
pub const MAX_CERT_PEM_LEN: usize = MAX_CERT_DER_LEN / 3 * 4 + MAX_CERT_DER_LEN / 48 + 256;

/// One PEM block, borrowed from the text it was found in (RFC 7468 §2).
#[derive(Clone, Copy, Debug)]
pub struct PemBlock<'a> {
    text: &'a [u8],
    span: Span,
}

/// Offsets of a block inside its text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    begin: usize,
    label_start: usize,
    label_end: usize,
    body_start: usize,
    body_end: usize,
    end: usize,
}

impl<'a> PemBlock<'a> {
    /// The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`.
    pub fn label(&self) -> &'a [u8] {
        self.text
            .get(self.span.label_start..self.span.label_end)
            .unwrap_or_default()
    }

    /// Offset of this block's `-----BEGIN` in the text.
    pub const fn offset(&self) -> usize {
        self.span.begin
    }

    /// True when the label is exactly `CERTIFICATE`.
    pub fn is_certificate(&self) -> bool {
        self.label() == CERT_LABEL
    }

    /// Decodes the base64 body into `out` (no framing check of the result).
    pub fn decode_into<'b>(&self, out: &'b mut [u8]) -> Result<&'b [u8], CertError> {
        let body = self
            .text
            .get(self.span.body_start..self.span.body_end)
            .unwrap_or_default();
        let mut dec = b64::Decoder::new(Padding::Required);
        dec.feed(body, self.span.body_start, true, out)?;
        let n = dec.finish(self.span.body_end, out)?;
        Ok(out.get(..n).unwrap_or_default())
    }

    /// Decodes a `CERTIFICATE` block and checks the DER framing (RFC 7468 §5.1).
    pub fn certificate_into<'b>(&self, out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
        if !self.is_certificate() {
            return Err(CertError::PemLabel {
                offset: self.span.label_start,
            });
        }
        CertDer::new(self.decode_into(out)?)
    }
}

/// Iterator over the PEM blocks of a text; see [`pem_blocks`].
#[derive(Clone, Debug)]
pub struct PemBlocks<'a> {
    text: &'a [u8],
    pos: usize,
    done: bool,
}

/// Iterates the PEM blocks of `text` (a chain file, an XFCC `Chain=` value), in order.
///
/// Only whitespace may separate blocks; stray text ends the iteration with an error.
pub fn pem_blocks(text: &[u8]) -> PemBlocks<'_> {
    PemBlocks {
        text,
        pos: 0,
        done: false,
    }
}

impl<'a> Iterator for PemBlocks<'a> {
    type Item = Result<PemBlock<'a>, CertError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match next_span(self.text, self.pos) {
            Ok(Some(span)) => {
                self.pos = span.end;
                Some(Ok(PemBlock {
                    text: self.text,
                    span,
                }))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while text.get(pos).is_some_and(|&c| b64::is_ws(c)) {
        pos += 1;
    }
    pos
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let tail = hay.get(from..)?;
    tail.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// The next block starting at `pos` (after whitespace); `None` at the end of the text.
fn next_span(text: &[u8], pos: usize) -> Result<Option<Span>, CertError> {
    let begin = skip_ws(text, pos);
    if begin >= text.len() {
        return Ok(None);
    }
    let rest = text.get(begin..).unwrap_or_default();
    if !rest.starts_with(BEGIN) {
        return Err(if pos == 0 && find(text, BEGIN, 0).is_none() {
            CertError::PemNoBegin
        } else {
            CertError::PemStrayText { offset: begin }
        });
    }
    let label_start = begin + BEGIN.len();
    let label_end = find(text, DASHES, label_start)
        .filter(|&e| e - label_start <= MAX_LABEL_LEN)
        .ok_or(CertError::PemLabel {
            offset: label_start,
        })?;
    let label = text.get(label_start..label_end).unwrap_or_default();
    if !label
        .iter()
        .all(|&c| (0x21..=0x7e).contains(&c) || c == b' ')
    {
        return Err(CertError::PemLabel {
            offset: label_start,
        });
    }
    let body_start = label_end + DASHES.len();
    let body_end = find(text, END, body_start).ok_or(CertError::PemEnd { offset: text.len() })?;
    let end_label_start = body_end + END.len();
    let end_label_end = end_label_start + label.len();
    let closes = text.get(end_label_start..end_label_end) == Some(label)
        && text.get(end_label_end..end_label_end + DASHES.len()) == Some(DASHES);
    if !closes {
        return Err(CertError::PemEnd { offset: body_end });
    }
    Ok(Some(Span {
        begin,
        label_start,
        label_end,
        body_start,
        body_end,
        end: end_label_end + DASHES.len(),
    }))
}

/// Locates the one `CERTIFICATE` block of `text`: its base64 body range.
pub(crate) fn single_cert_body(text: &[u8]) -> Result<Range<usize>, CertError> {
    if text.len() > MAX_CERT_PEM_LEN {
        return Err(CertError::TooLarge {
            len: text.len(),
            max: MAX_CERT_PEM_LEN,
        });
    }
    let span = next_span(text, 0)?.ok_or(CertError::Empty)?;
    if text.get(span.label_start..span.label_end) != Some(CERT_LABEL) {
        return Err(CertError::PemLabel {
            offset: span.label_start,
        });
    }
    let after = skip_ws(text, span.end);
    if after < text.len() {
        let rest = text.get(after..).unwrap_or_default();
        return Err(if rest.starts_with(BEGIN) {
            CertError::PemMultipleBlocks { offset: after }
        } else {
            CertError::PemStrayText { offset: after }
        });
    }
    Ok(span.body_start..span.body_end)
}

/// Decodes PEM text holding exactly one `CERTIFICATE` block into `out` (RFC 7468 §5.1).
pub fn decode_pem_into<'b>(pem: &[u8], out: &'b mut [u8]) -> Result<CertDer<'b>, CertError> {
    let body = single_cert_body(pem)?;
    let span_text = pem.get(body.clone()).unwrap_or_default();
    let mut dec = b64::Decoder::new(Padding::Required);
    dec.feed(span_text, body.start, true, out)?;
    let n = dec.finish(body.end, out)?;
    CertDer::new(out.get(..n).unwrap_or_default())
}

/// Decodes PEM text that already sits in `buf[..len]`, in place (used after percent-decoding).
pub(crate) fn decode_pem_in_place(buf: &mut [u8], len: usize) -> Result<usize, CertError> {
    let body = single_cert_body(buf.get(..len).unwrap_or_default())?;
    b64::decode_in_place(buf, body.start, body.end, Padding::Required, true)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    // Base64 of SEQUENCE { SEQUENCE {}, SEQUENCE {}, BIT STRING { 0 } }.
    const TINY_PEM: &str = "-----BEGIN CERTIFICATE-----\nMAcwADAAAwEA\n-----END CERTIFICATE-----\n";

    #[test]
    fn decodes_one_block_and_tolerates_folded_whitespace() {
        let mut out = [0u8; 32];
        assert_eq!(
            decode_pem_into(TINY_PEM.as_bytes(), &mut out)
                .unwrap()
                .as_bytes()
                .len(),
            9
        );
        let folded = "-----BEGIN CERTIFICATE----- MAcw ADAA AwEA -----END CERTIFICATE-----";
        assert_eq!(
            decode_pem_into(folded.as_bytes(), &mut out)
                .unwrap()
                .as_bytes()
                .len(),
            9
        );
    }

    #[test]
    fn explicit_errors_for_labels_blocks_and_text() {
        let mut out = [0u8; 64];
        let key = "-----BEGIN PRIVATE KEY-----\nMAcwADAAAwEA\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            decode_pem_into(key.as_bytes(), &mut out),
            Err(CertError::PemLabel { offset: 11 })
        );
        let mut two = [0u8; 2 * TINY_PEM.len()];
        two[..TINY_PEM.len()].copy_from_slice(TINY_PEM.as_bytes());
        two[TINY_PEM.len()..].copy_from_slice(TINY_PEM.as_bytes());
        assert_eq!(
            decode_pem_into(&two, &mut out),
            Err(CertError::PemMultipleBlocks {
                offset: TINY_PEM.len()
            })
        );
        assert_eq!(
            decode_pem_into(b"hello", &mut out),
            Err(CertError::PemNoBegin)
        );
        let lead = "x-----BEGIN CERTIFICATE-----\nMAcwADAAAwEA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            decode_pem_into(lead.as_bytes(), &mut out),
            Err(CertError::PemStrayText { offset: 0 })
        );
        let unterminated = "-----BEGIN CERTIFICATE-----\nMAcwADAAAwEA\n";
        assert_eq!(
            decode_pem_into(unterminated.as_bytes(), &mut out),
            Err(CertError::PemEnd {
                offset: unterminated.len()
            })
        );
        let mismatch = "-----BEGIN CERTIFICATE-----\nMAcwADAAAwEA\n-----END CERTIFICATX-----\n";
        assert_eq!(
            decode_pem_into(mismatch.as_bytes(), &mut out),
            Err(CertError::PemEnd { offset: 41 })
        );
        let url = "-----BEGIN CERTIFICATE-----\nMAcwADAAAw_A\n-----END CERTIFICATE-----\n";
        assert_eq!(
            decode_pem_into(url.as_bytes(), &mut out),
            Err(CertError::Base64 { offset: 38 })
        );
    }

    #[test]
    fn iterates_chain_blocks() {
        let mut two = [0u8; 2 * TINY_PEM.len()];
        two[..TINY_PEM.len()].copy_from_slice(TINY_PEM.as_bytes());
        two[TINY_PEM.len()..].copy_from_slice(TINY_PEM.as_bytes());
        let mut out = [0u8; 16];
        let mut n = 0;
        for block in pem_blocks(&two) {
            assert_eq!(
                block
                    .unwrap()
                    .certificate_into(&mut out)
                    .unwrap()
                    .as_bytes()
                    .len(),
                9
            );
            n += 1;
        }
        assert_eq!(n, 2);
    }

    #[test]
    fn in_place_decoding() {
        let mut buf = [0u8; 128];
        buf[..TINY_PEM.len()].copy_from_slice(TINY_PEM.as_bytes());
        let n = decode_pem_in_place(&mut buf, TINY_PEM.len()).unwrap();
        assert_eq!(
            &buf[..n],
            &[0x30, 0x07, 0x30, 0x00, 0x30, 0x00, 0x03, 0x01, 0x00]
        );
    }
}
