//! Steinberg's `.vstpreset` file: what DAWs save for a VST3 plugin, and what mixdown writes.
//!
//! Layout (all integers little-endian):
//!
//! ```text
//! 0   "VST3"                      4 bytes
//! 4   version                     i32 (1)
//! 8   class id                    32 ASCII hex digits (the processor's class id)
//! 40  offset of the chunk list    i64
//! 48  chunk data …
//!     "List", entry count i32, then per entry: chunk id (4 bytes), offset i64, size i64
//! ```
//!
//! Chunks: `Comp` (the component's state), `Cont` (the controller's), optionally `Info` (XML
//! metadata, ignored here) and `Prog`.

/// The class id of a VST3 class as 32 upper-case hex digits (the bytes in order: on Linux and
/// macOS the in-memory order of a TUID is the order of its text form).
pub fn class_id_text(cid: &[u8; 16]) -> String {
    cid.iter().map(|b| format!("{b:02X}")).collect()
}

/// The 16 bytes of a class id given as 32 hex digits.
pub fn parse_class_id(text: &str) -> Option<[u8; 16]> {
    let t = text.as_bytes();
    if t.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(std::str::from_utf8(&t[2 * i..2 * i + 2]).ok()?, 16).ok()?;
    }
    Some(out)
}

/// A parsed preset: the class id and the two states.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// The class id, 32 hex digits as written.
    pub class_id: String,
    /// The component's state (`Comp`).
    pub component: Vec<u8>,
    /// The controller's state (`Cont`), if present.
    pub controller: Option<Vec<u8>>,
}

const HEADER: usize = 48;

/// Writes a preset with a `Comp` chunk and, when there is one, a `Cont` chunk.
pub fn write(class_id: &str, component: &[u8], controller: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(HEADER + component.len() + controller.len() + 48);
    v.extend_from_slice(b"VST3");
    v.extend_from_slice(&1i32.to_le_bytes());
    let mut id = [b'0'; 32];
    for (d, s) in id.iter_mut().zip(class_id.bytes()) {
        *d = s;
    }
    v.extend_from_slice(&id);
    let list_at = (HEADER + component.len() + controller.len()) as i64;
    v.extend_from_slice(&list_at.to_le_bytes());
    v.extend_from_slice(component);
    v.extend_from_slice(controller);
    v.extend_from_slice(b"List");
    // An empty controller state gets no entry (a host would hand the controller an empty
    // stream).
    let entries = if controller.is_empty() { 1i32 } else { 2 };
    v.extend_from_slice(&entries.to_le_bytes());
    let mut entry = |id: &[u8; 4], at: usize, len: usize| {
        v.extend_from_slice(id);
        v.extend_from_slice(&(at as i64).to_le_bytes());
        v.extend_from_slice(&(len as i64).to_le_bytes());
    };
    entry(b"Comp", HEADER, component.len());
    if !controller.is_empty() {
        entry(b"Cont", HEADER + component.len(), controller.len());
    }
    v
}

/// Whether `bytes` starts like a `.vstpreset`.
pub fn is_preset(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER && &bytes[..4] == b"VST3"
}

/// Parses a preset; errors say what is wrong.
pub fn read(bytes: &[u8]) -> Result<Preset, String> {
    if !is_preset(bytes) {
        return Err("not a .vstpreset file (no 'VST3' header)".into());
    }
    let i32_at = |at: usize| -> Option<i32> {
        Some(i32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let i64_at = |at: usize| -> Option<i64> {
        Some(i64::from_le_bytes(bytes.get(at..at + 8)?.try_into().ok()?))
    };
    let class_id = String::from_utf8_lossy(&bytes[8..40]).into_owned();
    let bad = || "a .vstpreset with a broken chunk list".to_string();
    let list = usize::try_from(i64_at(40).ok_or_else(bad)?).map_err(|_| bad())?;
    if bytes.get(list..list + 4) != Some(b"List".as_slice()) {
        return Err(bad());
    }
    let count = usize::try_from(i32_at(list + 4).ok_or_else(bad)?).map_err(|_| bad())?;
    let (mut component, mut controller) = (None, None);
    for e in 0..count.min(64) {
        let at = list + 8 + e * 20;
        let id = bytes.get(at..at + 4).ok_or_else(bad)?;
        let off = usize::try_from(i64_at(at + 4).ok_or_else(bad)?).map_err(|_| bad())?;
        let len = usize::try_from(i64_at(at + 12).ok_or_else(bad)?).map_err(|_| bad())?;
        let end = off.checked_add(len).ok_or_else(bad)?;
        let data = bytes.get(off..end).ok_or_else(bad)?.to_vec();
        match id {
            b"Comp" => component = Some(data),
            b"Cont" => controller = Some(data),
            _ => {}
        }
    }
    Ok(Preset {
        class_id,
        component: component.ok_or("a .vstpreset without a component state ('Comp' chunk)")?,
        controller,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_round_trips_and_its_header_is_steinbergs() {
        let cid = [
            0x41, 0x33, 0x53, 0x5a, 0x5a, 0x61, 0x6d, 0x45, 0x51, 0x32, 0, 0, 0, 0, 0, 0xff,
        ];
        let id = class_id_text(&cid);
        assert_eq!(id, "4133535A5A616D4551320000000000FF");
        assert_eq!(parse_class_id(&id), Some(cid));
        let b = write(&id, b"comp-state", b"ctrl");
        assert_eq!(&b[..4], b"VST3");
        assert_eq!(i32::from_le_bytes(b[4..8].try_into().unwrap()), 1);
        assert_eq!(&b[8..40], id.as_bytes());
        let list = i64::from_le_bytes(b[40..48].try_into().unwrap()) as usize;
        assert_eq!(&b[list..list + 4], b"List");
        assert_eq!(&b[48..58], b"comp-state");
        let p = read(&b).unwrap();
        assert_eq!(p.class_id, id);
        assert_eq!(p.component, b"comp-state");
        assert_eq!(p.controller.as_deref(), Some(&b"ctrl"[..]));
        assert!(read(b"VST3 but short").is_err());
        let mut broken = b.clone();
        broken[40] = 0xff;
        assert!(read(&broken).is_err());
    }
}
