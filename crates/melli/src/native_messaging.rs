//! Browser native messaging (Chrome, Chromium, Firefox): how a browser extension and a native
//! program talk over the program's stdin and stdout. Each message is a 32-bit length in the
//! machine's byte order (little-endian on x86 and ARM), then that many bytes of UTF-8 JSON.
//!
//! The browser caps what a program sends at [`MAX_OUTGOING`] bytes. What a program reads comes
//! from whoever started it and is capped here at [`MAX_INCOMING`] bytes (the Web eID extension
//! sends at most 8 192): a longer length is refused before anything is allocated.

use std::io::{self, Read, Write};

/// Largest message read, in bytes.
pub const MAX_INCOMING: usize = 8 * 1024;
/// Largest message a browser takes from a native program, in bytes.
pub const MAX_OUTGOING: usize = 1024 * 1024;

/// Why no message could be read. The stream cannot be trusted after any of these: the reader
/// does not know where the next message starts.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("the input ended inside a message's 4-byte length ({got} bytes of it)")]
    CutLength { got: usize },
    #[error("a message announces {0} bytes, more than the {MAX_INCOMING} taken")]
    TooLarge(u32),
    #[error("a message announces 0 bytes: a message is a JSON object")]
    Empty,
    #[error("the input ended inside a message: {got} of its {announced} bytes came")]
    CutMessage { got: usize, announced: usize },
    #[error("reading the input: {0}")]
    Io(#[source] io::Error),
}

/// Reads one message's bytes. `Ok(None)` when the input ends cleanly between messages (the
/// browser closed the connection).
pub fn read_message(input: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
    let mut length = [0u8; 4];
    let got = read_full(input, &mut length)?;
    match got {
        0 => return Ok(None),
        4 => {}
        got => return Err(FrameError::CutLength { got }),
    }
    let announced = u32::from_ne_bytes(length);
    if announced == 0 {
        return Err(FrameError::Empty);
    }
    let len = usize::try_from(announced).map_err(|_| FrameError::TooLarge(announced))?;
    if len > MAX_INCOMING {
        return Err(FrameError::TooLarge(announced));
    }
    let mut message = vec![0u8; len];
    let got = read_full(input, &mut message)?;
    if got < len {
        return Err(FrameError::CutMessage {
            got,
            announced: len,
        });
    }
    Ok(Some(message))
}

/// Reads until `buf` is full or the input ends; returns how many bytes came.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> Result<usize, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(got)
}

/// Writes one message (its length, then `json`) and flushes. A message longer than
/// [`MAX_OUTGOING`] is refused (`InvalidInput`) without writing anything: the browser would
/// drop the connection.
pub fn write_message(output: &mut impl Write, json: &[u8]) -> io::Result<()> {
    if json.len() > MAX_OUTGOING {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "a message of {} bytes is more than the {MAX_OUTGOING} a browser takes",
                json.len()
            ),
        ));
    }
    let length = u32::try_from(json.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too long"))?;
    let mut frame = Vec::with_capacity(4 + json.len());
    frame.extend_from_slice(&length.to_ne_bytes());
    frame.extend_from_slice(json);
    output.write_all(&frame)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_ne_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn messages_round_trip_and_end_cleanly() {
        let mut out = Vec::new();
        write_message(&mut out, br#"{"a":1}"#).expect("written");
        write_message(&mut out, br#"{"b":2}"#).expect("written");
        assert_eq!(out, [frame(br#"{"a":1}"#), frame(br#"{"b":2}"#)].concat());
        let mut input = out.as_slice();
        assert_eq!(
            read_message(&mut input).expect("ok").as_deref(),
            Some(&br#"{"a":1}"#[..])
        );
        assert_eq!(
            read_message(&mut input).expect("ok").as_deref(),
            Some(&br#"{"b":2}"#[..])
        );
        assert!(read_message(&mut input).expect("ok").is_none());
    }

    #[test]
    fn hostile_frames_are_refused_without_allocating() {
        let mut huge = &u32::MAX.to_ne_bytes()[..];
        assert!(matches!(
            read_message(&mut huge),
            Err(FrameError::TooLarge(u32::MAX))
        ));
        let just_over = ((MAX_INCOMING + 1) as u32).to_ne_bytes();
        assert!(matches!(
            read_message(&mut &just_over[..]),
            Err(FrameError::TooLarge(_))
        ));
        assert!(matches!(
            read_message(&mut &[1u8, 0][..]),
            Err(FrameError::CutLength { got: 2 })
        ));
        assert!(matches!(
            read_message(&mut &0u32.to_ne_bytes()[..]),
            Err(FrameError::Empty)
        ));
        let mut cut = frame(b"{\"abc\":1}");
        cut.truncate(8);
        assert!(matches!(
            read_message(&mut cut.as_slice()),
            Err(FrameError::CutMessage {
                got: 4,
                announced: 9
            })
        ));
        let exactly = vec![b' '; MAX_INCOMING];
        assert!(read_message(&mut frame(&exactly).as_slice()).is_ok());
        let mut sink = Vec::new();
        assert!(write_message(&mut sink, &vec![b' '; MAX_OUTGOING + 1]).is_err());
        assert!(sink.is_empty());
    }
}
