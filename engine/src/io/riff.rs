//! Walking the chunks of a RIFF/WAVE or RF64/BW64 file (EBU Tech 3306): ids, body offsets and
//! sizes, with the 64-bit sizes of an RF64 file's `ds64` chunk applied to its `data` chunk.
//! Used to read RF64 files (which the WAV library does not know) and `bext` loudness fields.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{Error, ErrorKind};

/// One chunk: its id, where its body starts, its size in bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Four-character id.
    pub id: [u8; 4],
    /// Byte offset of the body.
    pub offset: u64,
    /// Body size in bytes.
    pub size: u64,
}

/// Whether the file starts like an RF64/BW64 file.
pub fn is_rf64(path: &Path) -> bool {
    let mut head = [0u8; 12];
    super::open_regular(path)
        .ok()
        .and_then(|mut f| f.read_exact(&mut head).ok())
        .is_some()
        && (&head[..4] == b"RF64" || &head[..4] == b"BW64")
        && &head[8..] == b"WAVE"
}

/// The chunks of a RIFF/WAVE or RF64 file, in order (at most 1000; the walk stops at the end of
/// the file or at the first chunk that runs past it, which is kept).
pub fn chunks(path: &Path) -> Result<Vec<Chunk>, Error> {
    let bad = |m: &str| Error::new(ErrorKind::Format, format!("{}: {m}", path.display()));
    let mut f = super::open_regular(path)?;
    let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
    let mut head = [0u8; 12];
    f.read_exact(&mut head)
        .map_err(|_| bad("truncated: the file ends inside its header"))?;
    let rf64 = matches!(&head[..4], b"RF64" | b"BW64");
    if !(rf64 || &head[..4] == b"RIFF") || &head[8..] != b"WAVE" {
        return Err(bad("not a RIFF/WAVE or RF64 file"));
    }
    let mut out = Vec::new();
    let mut data64 = None;
    let mut at = 12u64;
    while at + 8 <= len && out.len() < 1000 {
        f.seek(SeekFrom::Start(at))
            .map_err(|e| Error::io(path, e))?;
        let mut h = [0u8; 8];
        if f.read_exact(&mut h).is_err() {
            break;
        }
        let id = [h[0], h[1], h[2], h[3]];
        let mut size = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
        if rf64 && &id == b"ds64" && size >= 16 {
            let mut b = [0u8; 16];
            f.read_exact(&mut b)
                .map_err(|_| bad("truncated ds64 chunk"))?;
            data64 = Some(u64::from_le_bytes(b[8..16].try_into().expect("8 bytes")));
        }
        if &id == b"data" && size == u32::MAX as u64 {
            size = data64.ok_or_else(|| bad("an RF64 data chunk without a ds64 size"))?;
        }
        out.push(Chunk {
            id,
            offset: at + 8,
            size,
        });
        at = at + 8 + size + (size & 1);
    }
    Ok(out)
}

/// `n` bytes of `path` from `offset`.
pub fn read_at(path: &Path, offset: u64, n: usize) -> Result<Vec<u8>, Error> {
    let mut f = super::open_regular(path)?;
    f.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut b = vec![0u8; n];
    f.read_exact(&mut b)
        .map_err(|_| Error::new(ErrorKind::Format, format!("{}: truncated", path.display())))?;
    Ok(b)
}
