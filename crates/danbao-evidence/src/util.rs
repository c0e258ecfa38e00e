//! Small strict parsers shared by the text formats.

/// Parses an ASCII decimal with no sign and no leading zeros (except `0` itself), the
/// only form the C2SP formats and the leaf record allow. Anything else is `None`, so a
/// number has exactly one encoding.
pub(crate) fn parse_canonical_u64(s: &str) -> Option<u64> {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    if bytes.len() > 1 && bytes[0] == b'0' {
        return None;
    }
    s.parse().ok()
}

/// Decodes standard padded base64 (RFC 4648 §4) into exactly 32 bytes, rejecting any
/// other length and any non-canonical encoding (the re-encoding must match).
pub(crate) fn decode_b64_hash(s: &str) -> Option<[u8; 32]> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    let hash: [u8; 32] = bytes.try_into().ok()?;
    if base64::engine::general_purpose::STANDARD.encode(hash) != s {
        return None;
    }
    Some(hash)
}

pub(crate) fn encode_b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard padded base64 and insists the encoding is canonical.
pub(crate) fn decode_b64_canonical(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    if base64::engine::general_purpose::STANDARD.encode(&bytes) != s {
        return None;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn canonical_decimals() {
        assert_eq!(parse_canonical_u64("0"), Some(0));
        assert_eq!(parse_canonical_u64("10"), Some(10));
        assert_eq!(parse_canonical_u64("18446744073709551615"), Some(u64::MAX));
        for bad in ["", "01", "+1", "-1", " 1", "1 ", "18446744073709551616", "1e3"] {
            assert_eq!(parse_canonical_u64(bad), None, "{bad:?}");
        }
    }
}
