//! Bad WAV input gives a clear error (kind, path and problem), never a panic; good WAV input
//! decodes exactly; a failed render leaves no file behind.

mod common;

use std::path::Path;
use std::sync::Arc;

use common::*;
use mixdown::io::wav::{probe, read_all, OutputFormat, WavEncoding};
use mixdown::nodes::{Gain, Placement, Player};
use mixdown::render::{render_to_file, render_to_vec, RenderOptions};
use mixdown::{Error, ErrorKind};

/// A RIFF/WAVE file with a plain 16-byte `fmt ` chunk and a `data` chunk that claims
/// `declared` bytes but holds `data`.
fn wav(
    tag: u16,
    channels: u16,
    bits: u16,
    container_bytes: u16,
    data: &[u8],
    declared: u32,
) -> Vec<u8> {
    let block_align = channels * container_bytes;
    let mut f = Vec::new();
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(4 + 8 + 16 + 8 + declared).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&16u32.to_le_bytes());
    f.extend_from_slice(&tag.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&48_000u32.to_le_bytes());
    f.extend_from_slice(&(48_000 * u32::from(block_align)).to_le_bytes());
    f.extend_from_slice(&block_align.to_le_bytes());
    f.extend_from_slice(&bits.to_le_bytes());
    f.extend_from_slice(b"data");
    f.extend_from_slice(&declared.to_le_bytes());
    f.extend_from_slice(data);
    f
}

/// WAVE_FORMAT_EXTENSIBLE (PCM subformat) with `valid` bits in `container_bytes` per sample.
fn wav_extensible(channels: u16, valid: u16, container_bytes: u16, data: &[u8]) -> Vec<u8> {
    let block_align = channels * container_bytes;
    let mut f = Vec::new();
    f.extend_from_slice(b"RIFF");
    f.extend_from_slice(&(4 + 8 + 40 + 8 + data.len() as u32).to_le_bytes());
    f.extend_from_slice(b"WAVEfmt ");
    f.extend_from_slice(&40u32.to_le_bytes());
    f.extend_from_slice(&0xFFFEu16.to_le_bytes());
    f.extend_from_slice(&channels.to_le_bytes());
    f.extend_from_slice(&48_000u32.to_le_bytes());
    f.extend_from_slice(&(48_000 * u32::from(block_align)).to_le_bytes());
    f.extend_from_slice(&block_align.to_le_bytes());
    f.extend_from_slice(&(container_bytes * 8).to_le_bytes());
    f.extend_from_slice(&22u16.to_le_bytes());
    f.extend_from_slice(&valid.to_le_bytes());
    f.extend_from_slice(&0u32.to_le_bytes());
    // KSDATAFORMAT_SUBTYPE_PCM
    f.extend_from_slice(&[
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b,
        0x71,
    ]);
    f.extend_from_slice(b"data");
    f.extend_from_slice(&(data.len() as u32).to_le_bytes());
    f.extend_from_slice(data);
    f
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn probe_err(path: &Path) -> Error {
    match probe(path) {
        Ok(info) => panic!("{} probed fine: {info:?}", path.display()),
        Err(e) => {
            let text = e.to_string();
            assert!(
                text.contains(&path.display().to_string()),
                "message does not name the file: {text}"
            );
            e
        }
    }
}

fn assert_mentions(e: &Error, words: &[&str]) {
    for w in words {
        assert!(e.message.contains(w), "{w:?} missing from: {e}");
    }
}

#[test]
fn missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = probe_err(&dir.path().join("vocals.wav"));
    assert_eq!(e.kind, ErrorKind::Io);
    assert_mentions(&e, &["not found"]);
}

#[test]
fn text_file_is_not_a_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "notes.wav",
        b"verse, chorus, verse, chorus, outro\n",
    );
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["not a", "WAV"]);
}

#[test]
fn truncated_data() {
    let dir = tempfile::tempdir().unwrap();
    // The header promises 1000 stereo 16-bit frames; 100 are there.
    let p = write(dir.path(), "cut.wav", &wav(1, 2, 16, 2, &[0u8; 400], 4000));
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["truncated", "1000 frames", "100"]);
}

#[test]
fn truncated_header() {
    let dir = tempfile::tempdir().unwrap();
    let full = wav(1, 2, 16, 2, &[0u8; 400], 400);
    let p = write(dir.path(), "stub.wav", &full[..30]);
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["truncated", "header"]);
}

/// 64-bit float is not for the direct WAV reader (it says so by name); the general decoder
/// plays it, exactly.
#[test]
fn float64_goes_to_the_general_decoder_and_plays_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data: Vec<u8> = [0.5f64, -0.25, 0.125, 0.0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let p = write(
        dir.path(),
        "f64.wav",
        &wav(3, 1, 64, 8, &data, data.len() as u32),
    );
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["unsupported", "64-bit float"]);
    let (_, planar) = mixdown::io::decode::read_all_audio(&p).unwrap();
    assert_eq!(planar[0], [0.5, -0.25, 0.125, 0.0]);
}

#[test]
fn twelve_bit_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    // As plain PCM (12 bits in a 2-byte container) and as WAVE_FORMAT_EXTENSIBLE.
    let plain = write(dir.path(), "12.wav", &wav(1, 1, 12, 2, &[0u8; 200], 200));
    let ext = write(
        dir.path(),
        "12x.wav",
        &wav_extensible(1, 12, 2, &[0u8; 200]),
    );
    for p in [plain, ext] {
        let e = probe_err(&p);
        assert_eq!(e.kind, ErrorKind::Format);
        assert_mentions(&e, &["unsupported", "12-bit"]);
    }
}

/// 24-bit samples in 4-byte containers would be misread as packed 24-bit (noise) by the direct
/// WAV reader, which refuses them; the general decoder plays them, exactly.
#[test]
fn padded_24_bit_is_not_misread() {
    let dir = tempfile::tempdir().unwrap();
    // 0.5 and -0.25 at 24 bits, left-justified in 32-bit containers; two channels.
    let frame: Vec<u8> = [0x40_0000i32 << 8, -0x20_0000i32 << 8]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let data = frame.repeat(100);
    let p = write(dir.path(), "24in32.wav", &wav_extensible(2, 24, 4, &data));
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["unsupported", "24-bit", "4-byte"]);
    let (_, planar) = mixdown::io::decode::read_all_audio(&p).unwrap();
    assert_eq!(planar[0].len(), 100);
    assert!(planar[0].iter().all(|v| *v == 0.5), "{:?}", &planar[0][..4]);
    assert!(
        planar[1].iter().all(|v| *v == -0.25),
        "{:?}",
        &planar[1][..4]
    );
}

#[test]
fn compressed_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    // WAVE_FORMAT_MULAW (7).
    let p = write(dir.path(), "ulaw.wav", &wav(7, 1, 8, 1, &[0u8; 100], 100));
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["unsupported"]);
}

#[test]
fn zero_length_wav() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "empty.wav", &wav(1, 2, 16, 2, &[], 0));
    let e = probe_err(&p);
    assert_eq!(e.kind, ErrorKind::Format);
    assert_mentions(&e, &["no audio", "0 frames"]);
}

/// Good files decode to the exact sample values (16-bit, 24-bit, 32-bit float, 8-bit).
#[test]
fn good_files_decode_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let vals: [i32; 5] = [0, 1, -1, 12_345, -32_768];
    let mut d16 = Vec::new();
    for v in vals {
        d16.extend_from_slice(&(v as i16).to_le_bytes());
    }
    let p = write(
        dir.path(),
        "s16.wav",
        &wav(1, 1, 16, 2, &d16, d16.len() as u32),
    );
    let (info, x) = read_all(&p).unwrap();
    assert_eq!(info.encoding, WavEncoding::Int(16));
    assert_eq!(info.frames, 5);
    let want: Vec<f32> = vals.iter().map(|v| *v as f32 / 32768.0).collect();
    assert_eq!(x[0], want);

    let mut d24 = Vec::new();
    for v in [0i32, 1, -1, 8_388_607, -8_388_608] {
        d24.extend_from_slice(&v.to_le_bytes()[..3]);
    }
    let p = write(
        dir.path(),
        "s24.wav",
        &wav(1, 1, 24, 3, &d24, d24.len() as u32),
    );
    let (_, x) = read_all(&p).unwrap();
    let lsb = 1.0 / 8_388_608.0;
    assert_eq!(x[0], vec![0.0, lsb, -lsb, 8_388_607.0 * lsb, -1.0]);

    let fl = [0.5f32, -0.25, 1.5, -2.0];
    let df: Vec<u8> = fl.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = write(
        dir.path(),
        "f32.wav",
        &wav(3, 2, 32, 4, &df, df.len() as u32),
    );
    let (info, x) = read_all(&p).unwrap();
    assert_eq!(info.channels, 2);
    assert_eq!(x, vec![vec![0.5, 1.5], vec![-0.25, -2.0]]);

    let p = write(dir.path(), "u8.wav", &wav(1, 1, 8, 1, &[128, 255, 0], 3));
    let (_, x) = read_all(&p).unwrap();
    assert_eq!(x[0], vec![0.0, 127.0 / 128.0, -1.0]);
}

/// A float render read back is the render, sample for sample.
#[test]
fn wav32f_render_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = spec();
    let data: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.01).sin() * 0.7).collect();
    let c = add_clip(&mut g, "tone", data);
    let k = g.add("gain", Gain, None).unwrap();
    g.connect(c, k, "in", None).unwrap();
    g.set_output(k);
    let path = dir.path().join("mix.wav");
    let report = render_to_file(
        build(&g),
        &path,
        OutputFormat::Wav32f,
        &RenderOptions::default(),
    )
    .unwrap();
    let (info, x) = read_all(&path).unwrap();
    assert_eq!(info.frames, report.frames);
    let (want, _) = render_to_vec(build(&g), &RenderOptions::default());
    assert_eq!(x, want);
}

fn add_player(
    g: &mut mixdown::graph::GraphSpec,
    info: Arc<mixdown::io::wav::WavInfo>,
    at: Placement,
) -> mixdown::graph::NodeKey {
    let factory: mixdown::graph::NodeFactory =
        Arc::new(move || Box::new(Player::new(info.clone(), at)));
    g.add_with("player", &mixdown::nodes::player::DESC, factory, None)
        .unwrap()
}

/// A player streams its file exactly, placed on the timeline.
#[test]
fn player_streams_a_file_at_its_start_time() {
    let dir = tempfile::tempdir().unwrap();
    let n = 100_000; // longer than the player's ring
    let samples: Vec<i16> = (0..n)
        .map(|i| ((i * 37) % 65_536 - 32_768) as i16)
        .collect();
    let bytes: Vec<u8> = samples.iter().flat_map(|v| v.to_le_bytes()).collect();
    let p = write(
        dir.path(),
        "loop.wav",
        &wav(1, 1, 16, 2, &bytes, bytes.len() as u32),
    );
    let info = Arc::new(probe(&p).unwrap());
    let mut g = spec();
    let pl = add_player(
        &mut g,
        info,
        Placement {
            start_s: 0.01,
            trim_start_s: 0.0,
            length_s: None,
        },
    );
    let k = g.add("gain", Gain, None).unwrap();
    g.connect(pl, k, "in", None).unwrap();
    g.set_output(k);
    let (out, report) = render_to_vec(build(&g), &RenderOptions::default());
    assert_eq!(report.frames, 480 + n as u64);
    assert!(out[0][..480].iter().all(|v| *v == 0.0));
    for (i, s) in samples.iter().enumerate() {
        assert_eq!(out[0][480 + i], f32::from(*s) / 32768.0, "frame {i}");
    }
}

/// A file cut short after it was probed: the render neither hangs nor panics; it fails with
/// the file's path and what happened, and leaves no output file behind.
#[test]
fn a_file_truncated_after_probing_fails_the_render_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = vec![0x10u8; 2 * 20_000];
    let p = write(
        dir.path(),
        "shrinking.wav",
        &wav(1, 1, 16, 2, &bytes, bytes.len() as u32),
    );
    let info = Arc::new(probe(&p).unwrap());
    std::fs::write(&p, wav(1, 1, 16, 2, &bytes[..2000], bytes.len() as u32)).unwrap();
    let mut g = spec();
    let pl = add_player(&mut g, info, Placement::default());
    g.set_output(pl);
    let e = mixdown::render::try_render_to_vec(build(&g), &RenderOptions::default()).unwrap_err();
    assert_mentions(&e, &["shrinking.wav", "truncated", "player"]);
    let out = dir.path().join("out.wav");
    let r = render_to_file(
        build(&g),
        &out,
        OutputFormat::Wav16,
        &RenderOptions::default(),
    );
    assert!(r.is_err());
    assert!(!out.exists(), "no output file from a failed render");
    assert_eq!(
        listing(dir.path()),
        ["shrinking.wav"],
        "no .part left behind"
    );
}

fn tiny_graph() -> mixdown::graph::GraphSpec {
    let mut g = spec();
    let c = add_clip(&mut g, "tone", vec![0.5; 4800]);
    let k = g.add("gain", Gain, None).unwrap();
    g.connect(c, k, "in", None).unwrap();
    g.set_output(k);
    g
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn render_into_a_folder_that_cannot_be_created_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), b"x").unwrap();
    let out = dir.path().join("file").join("mixes").join("song.wav");
    let e = render_to_file(
        build(&tiny_graph()),
        &out,
        OutputFormat::Wav24,
        &RenderOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(e.message.contains("mixes"), "{e}");
    assert_eq!(listing(dir.path()), vec!["file"]);
}

/// The output name is taken by a folder: the render is refused before it starts (a destination
/// that is not a regular file is never replaced), and no temporary file is left behind.
#[test]
fn output_name_taken_by_a_folder_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("song.wav");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("keep.txt"), b"x").unwrap();
    let e = render_to_file(
        build(&tiny_graph()),
        &out,
        OutputFormat::Wav16,
        &RenderOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Denied);
    assert!(e.to_string().contains("song.wav"), "{e}");
    assert!(e.to_string().contains("not a regular file"), "{e}");
    assert_eq!(listing(dir.path()), vec!["song.wav"]);
    assert_eq!(listing(&out), vec!["keep.txt"]);
}

/// A successful render replaces an older file of the same name atomically and leaves no
/// `.part` behind.
#[test]
fn successful_render_replaces_the_old_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("song.wav");
    std::fs::write(&out, b"old").unwrap();
    let r = render_to_file(
        build(&tiny_graph()),
        &out,
        OutputFormat::Wav16,
        &RenderOptions::default(),
    )
    .unwrap();
    assert_eq!(r.frames, 4800);
    assert_eq!(listing(dir.path()), vec!["song.wav"]);
    assert_eq!(probe(&out).unwrap().frames, 4800);
}
