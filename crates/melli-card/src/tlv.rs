//! The card's own BER-TLV encoding and decoding (ISO/IEC 7816-4 §5.2, ISO/IEC 8825-1), just
//! as much as the card needs: building FCP templates and data objects, and reading the single
//! offset data object `54` of odd-INS commands (spec §1, §6.1, §6.2, §6.6).

/// Appends one data object: `tag`, its length, `value`. A tag above `FF` is written as two
/// bytes (`7F66`, `DF01`), a smaller one as one byte (`62`, `80`).
pub(super) fn push(out: &mut Vec<u8>, tag: u16, value: &[u8]) {
    push_tag(out, tag);
    push_length(out, value.len());
    out.extend_from_slice(value);
}

/// A data object as a new vector.
pub(super) fn object(tag: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len().saturating_add(8));
    push(&mut out, tag, value);
    out
}

fn push_tag(out: &mut Vec<u8>, tag: u16) {
    match tag.to_be_bytes() {
        [0, single] => out.push(single),
        both => out.extend_from_slice(&both),
    }
}

/// BER length: one byte below 128, else `80 + n` followed by the n significant bytes.
fn push_length(out: &mut Vec<u8>, len: usize) {
    match u8::try_from(len) {
        Ok(short) if short < 0x80 => out.push(short),
        _ => {
            let bytes = len.to_be_bytes();
            let skip = bytes.len().saturating_sub(significant_bytes(len));
            let significant = bytes.get(skip..).unwrap_or_default();
            // At most size_of::<usize>() bytes, so the count fits in the low seven bits.
            let count = u8::try_from(significant.len()).unwrap_or(0x7F);
            out.push(0x80 | count);
            out.extend_from_slice(significant);
        }
    }
}

/// Number of bytes needed to write `n` in big-endian without leading zero bytes.
fn significant_bytes(n: usize) -> usize {
    let bits = usize::BITS.saturating_sub(n.leading_zeros());
    usize::try_from(bits.div_ceil(8)).unwrap_or(usize::MAX)
}

/// Bytes taken by the tag and length of a data object with a one-byte tag and `len` value
/// bytes.
pub(super) fn header_len(len: usize) -> usize {
    if len < 0x80 {
        2
    } else {
        significant_bytes(len).saturating_add(2)
    }
}

/// The value of `data` when `data` is exactly one data object with the one-byte tag `tag`
/// (short or long-form length up to three bytes, nothing after it); `None` otherwise.
pub(super) fn single(data: &[u8], tag: u8) -> Option<&[u8]> {
    let (first, rest) = data.split_first()?;
    if *first != tag {
        return None;
    }
    let (len, value) = read_length(rest)?;
    (value.len() == len).then_some(value)
}

/// The value of the data object at the start of `data`, which must have the one-byte tag
/// `tag`, and the bytes after it; `None` if `data` does not start with such an object.
pub(super) fn first(data: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (first, rest) = data.split_first()?;
    if *first != tag {
        return None;
    }
    let (len, rest) = read_length(rest)?;
    Some((rest.get(..len)?, rest.get(len..)?))
}

/// Reads a BER length, returning it and the bytes after it.
fn read_length(data: &[u8]) -> Option<(usize, &[u8])> {
    let (first, rest) = data.split_first()?;
    if *first < 0x80 {
        return Some((usize::from(*first), rest));
    }
    let count = usize::from(*first & 0x7F);
    let bytes = rest.get(..count)?;
    let len = match *bytes {
        [a] => u32::from(a),
        [a, b] => u32::from(u16::from_be_bytes([a, b])),
        [a, b, c] => u32::from_be_bytes([0, a, b, c]),
        _ => return None,
    };
    Some((usize::try_from(len).ok()?, rest.get(count..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_short_and_long_lengths() {
        assert_eq!(object(0x53, &[]), vec![0x53, 0x00]);
        assert_eq!(object(0x80, &[1, 2]), vec![0x80, 0x02, 1, 2]);
        assert_eq!(object(0x7F66, &[9]), vec![0x7F, 0x66, 0x01, 9]);
        let long = object(0x53, &[0; 0x80]);
        assert_eq!(long.get(..3), Some(&[0x53, 0x81, 0x80][..]));
        let longer = object(0x53, &[0; 0x1234]);
        assert_eq!(longer.get(..4), Some(&[0x53, 0x82, 0x12, 0x34][..]));
    }

    #[test]
    fn header_lengths() {
        assert_eq!(header_len(0), 2);
        assert_eq!(header_len(127), 2);
        assert_eq!(header_len(128), 3);
        assert_eq!(header_len(255), 3);
        assert_eq!(header_len(256), 4);
        assert_eq!(header_len(65_535), 4);
        assert_eq!(header_len(65_536), 5);
    }

    #[test]
    fn parses_exactly_one_object() {
        assert_eq!(single(&[0x54, 0x01, 0x07], 0x54), Some(&[0x07][..]));
        assert_eq!(single(&[0x54, 0x81, 0x01, 0x07], 0x54), Some(&[0x07][..]));
        assert_eq!(single(&[0x54, 0x00], 0x54), Some(&[][..]));
        assert_eq!(single(&[0x53, 0x01, 0x07], 0x54), None);
        assert_eq!(single(&[0x54, 0x02, 0x07], 0x54), None);
        assert_eq!(single(&[0x54, 0x01, 0x07, 0x00], 0x54), None);
        assert_eq!(single(&[0x54, 0x80], 0x54), None);
        assert_eq!(single(&[0x54, 0x85, 0, 0, 0, 0, 1, 7], 0x54), None);
        assert_eq!(single(&[0x54], 0x54), None);
        assert_eq!(single(&[], 0x54), None);
    }

    #[test]
    fn reads_the_first_of_several_objects() {
        let data = [0x54, 0x01, 0x07, 0x53, 0x02, 0xAA, 0xBB];
        let (value, rest) = first(&data, 0x54).unwrap();
        assert_eq!(value, &[0x07]);
        assert_eq!(single(rest, 0x53), Some(&[0xAA, 0xBB][..]));
        assert_eq!(first(&data, 0x53), None);
        assert_eq!(first(&[0x54, 0x02, 0x07], 0x54), None);
        assert_eq!(first(&[0x54, 0x00], 0x54), Some((&[][..], &[][..])));
    }
}
