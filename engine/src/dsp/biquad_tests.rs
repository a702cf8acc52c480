//! Tests for `biquad.rs`: the RBJ table of dsp-references.md §3 / rbj_table.json (analytic and
//! measured through the f32 processor), cookbook identities, Butterworth cascades, the SIMD
//! cascade against a scalar reference, parameter ramps, denormal flushing and validation.

use super::*;

/// rbj_table.json labels these rows "Q=0.7071", but its coefficients are for 1/√2 exactly.
const SQRT_HALF: f64 = std::f64::consts::FRAC_1_SQRT_2;

#[derive(Clone, Copy)]
enum Form {
    Q,
    Slope,
}
use Form::{Slope, Q};

type Row = (
    FilterKind,
    Form,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    f64,
    [f64; 3],
    [f64; 2],
);

/// (kind, Q or S form, fs, f0, Q|S, gain dB, f, expected dB, expected phase°, b0..b2, a1..a2):
/// every entry of `rbj_table.json` (scipy `freqz`, cross-checked with sox and ffmpeg), which
/// contains every row of the §3 table at full precision.
#[rustfmt::skip]
const RBJ_TABLE: [Row; 56] = [
    (Bell, Q, 48000.0, 1000.0, 1.0, 6.0, 100.0, 0.0651868872309751, 4.024269455563741, [1.043953086990335, -1.8953207239365961, 0.8677222847598566], [-1.8953207239365961, 0.9116753717501915]),
    (Bell, Q, 48000.0, 1000.0, 1.0, 6.0, 500.0, 1.8793813596764464, 18.00273325017876, [1.043953086990335, -1.8953207239365961, 0.8677222847598566], [-1.8953207239365961, 0.9116753717501915]),
    (Bell, Q, 48000.0, 1000.0, 1.0, 6.0, 1000.0, 5.999999999999995, -1.370856342745261e-13, [1.043953086990335, -1.8953207239365961, 0.8677222847598566], [-1.8953207239365961, 0.9116753717501915]),
    (Bell, Q, 48000.0, 1000.0, 1.0, 6.0, 2000.0, 1.8659910369475754, -17.96761707002369, [1.043953086990335, -1.8953207239365961, 0.8677222847598566], [-1.8953207239365961, 0.9116753717501915]),
    (Bell, Q, 48000.0, 1000.0, 1.0, 6.0, 10000.0, 0.047601908648717745, -3.4439934938792782, [1.043953086990335, -1.8953207239365961, 0.8677222847598566], [-1.8953207239365961, 0.9116753717501915]),
    (Bell, Q, 48000.0, 1000.0, 1.0, -6.0, 100.0, -0.06518688723102885, -4.024269455563693, [0.9578974500501266, -1.8155228884860255, 0.8732915138730097], [-1.8155228884860255, 0.8311889639231365]),
    (Bell, Q, 48000.0, 1000.0, 1.0, -6.0, 1000.0, -6.000000000000006, 8.008614840489531e-13, [0.9578974500501266, -1.8155228884860255, 0.8732915138730097], [-1.8155228884860255, 0.8311889639231365]),
    (Bell, Q, 48000.0, 1000.0, 1.0, -6.0, 10000.0, -0.04760190864871476, 3.4439934938792733, [0.9578974500501266, -1.8155228884860255, 0.8732915138730097], [-1.8155228884860255, 0.8311889639231365]),
    (Bell, Q, 48000.0, 1000.0, 4.0, 12.0, 500.0, 0.423886829543531, 13.597182348624452, [1.0241792712762985, -1.9668066381212832, 0.959598863794116], [-1.9668066381212832, 0.9837781350704146]),
    (Bell, Q, 48000.0, 1000.0, 4.0, 12.0, 900.0, 6.860366398992355, 36.382869662182955, [1.0241792712762985, -1.9668066381212832, 0.959598863794116], [-1.9668066381212832, 0.9837781350704146]),
    (Bell, Q, 48000.0, 1000.0, 4.0, 12.0, 1000.0, 12.000000000000028, 5.918178241719251e-13, [1.0241792712762985, -1.9668066381212832, 0.959598863794116], [-1.9668066381212832, 0.9837781350704146]),
    (Bell, Q, 48000.0, 1000.0, 4.0, 12.0, 1100.0, 7.364609971343674, -35.80182960992537, [1.0241792712762985, -1.9668066381212832, 0.959598863794116], [-1.9668066381212832, 0.9837781350704146]),
    (Bell, Q, 48000.0, 1000.0, 4.0, 12.0, 2000.0, 0.4195976985459514, -13.530758650069618, [1.0241792712762985, -1.9668066381212832, 0.959598863794116], [-1.9668066381212832, 0.9837781350704146]),
    (Bell, Q, 44100.0, 1000.0, 1.0, 6.0, 100.0, 0.0651525306882372, 4.023220485174168, [1.0476300262002127, -1.8849912524567818, 0.8566564609221257], [-1.8849912524567818, 0.9042864871223383]),
    (Bell, Q, 44100.0, 1000.0, 1.0, 6.0, 1000.0, 5.999999999999997, -1.4784727786609882e-13, [1.0476300262002127, -1.8849912524567818, 0.8566564609221257], [-1.8849912524567818, 0.9042864871223383]),
    (Bell, Q, 44100.0, 1000.0, 1.0, 6.0, 10000.0, 0.044521358881725925, -3.3315537740828716, [1.0476300262002127, -1.8849912524567818, 0.8566564609221257], [-1.8849912524567818, 0.9042864871223383]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 20.0, 5.98963935799424, -5.848525004310197, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 50.0, 5.62358508097068, -16.55068114228581, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 100.0, 2.9999999999963505, -27.580353469610696, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 200.0, 0.3763699897738897, -16.550069799228257, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 1000.0, 0.0006451261573471843, -2.8373924727898836, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (LowShelf, Slope, 48000.0, 100.0, 1.0, 6.0, 10000.0, 3.4347425279058025e-08, -0.23992104023177477, [1.0032178957372329, -1.984364430776898, 0.9813866987491315], [-1.9844243291390486, 0.9845446961242141]),
    (HighShelf, Slope, 48000.0, 10000.0, 1.0, 6.0, 1000.0, 0.00034540093866519336, 2.420513756167134, [1.489304746371803, -0.7455436334515173, 0.32202546695273143], [-0.107842975063297, 0.17362955493631416]),
    (HighShelf, Slope, 48000.0, 10000.0, 1.0, 6.0, 5000.0, 0.23723915373117463, 14.35352288302563, [1.489304746371803, -0.7455436334515173, 0.32202546695273143], [-0.107842975063297, 0.17362955493631416]),
    (HighShelf, Slope, 48000.0, 10000.0, 1.0, 6.0, 10000.0, 2.9999999999999987, 27.580353469720574, [1.489304746371803, -0.7455436334515173, 0.32202546695273143], [-0.107842975063297, 0.17362955493631416]),
    (HighShelf, Slope, 48000.0, 10000.0, 1.0, 6.0, 20000.0, 5.9884303284835925, 6.024888476144843, [1.489304746371803, -0.7455436334515173, 0.32202546695273143], [-0.107842975063297, 0.17362955493631416]),
    (HighShelf, Slope, 48000.0, 3000.0, 0.5, -6.0, 300.0, -0.062482789051909626, -3.940816073294173, [0.5627591307736771, -0.6919089779529907, 0.2110678418833478], [-1.4213048556216084, 0.5032228503256425]),
    (HighShelf, Slope, 48000.0, 3000.0, 0.5, -6.0, 3000.0, -2.9999999999999956, -19.407150858440474, [0.5627591307736771, -0.6919089779529907, 0.2110678418833478], [-1.4213048556216084, 0.5032228503256425]),
    (HighShelf, Slope, 48000.0, 3000.0, 0.5, -6.0, 20000.0, -5.981632559739777, -2.1445668629167867, [0.5627591307736771, -0.6919089779529907, 0.2110678418833478], [-1.4213048556216084, 0.5032228503256425]),
    (Lowpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 100.0, -0.00043182177366689496, -8.118122091154715, [0.003916126660547383, 0.007832253321094766, 0.003916126660547383], [-1.815341082704568, 0.8310055893467576]),
    (Lowpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 1000.0, -3.0102999566397832, -89.99999999999942, [0.003916126660547383, 0.007832253321094766, 0.003916126660547383], [-1.815341082704568, 0.8310055893467576]),
    (Lowpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 2000.0, -12.374914311390597, -136.8908317694423, [0.003916126660547383, 0.007832253321094766, 0.003916126660547383], [-1.815341082704568, 0.8310055893467576]),
    (Lowpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 10000.0, -42.738274820510334, -173.06195909061827, [0.003916126660547383, 0.007832253321094766, 0.003916126660547383], [-1.815341082704568, 0.8310055893467576]),
    (Highpass, Q, 48000.0, 100.0, SQRT_HALF, 0.0, 10.0, -40.00067982055633, 171.8704225477959, [0.9907866979404267, -1.9815733958808535, 0.9907866979404267], [-1.981488509144573, 0.9816582826171341]),
    (Highpass, Q, 48000.0, 100.0, SQRT_HALF, 0.0, 50.0, -12.304664310765286, 136.68665378645534, [0.9907866979404267, -1.9815733958808535, 0.9907866979404267], [-1.981488509144573, 0.9816582826171341]),
    (Highpass, Q, 48000.0, 100.0, SQRT_HALF, 0.0, 100.0, -3.010299956640943, 90.00000000001035, [0.9907866979404267, -1.9815733958808535, 0.9907866979404267], [-1.981488509144573, 0.9816582826171341]),
    (Highpass, Q, 48000.0, 100.0, SQRT_HALF, 0.0, 1000.0, -0.0004318217735386331, 8.118122091154751, [0.9907866979404267, -1.9815733958808535, 0.9907866979404267], [-1.981488509144573, 0.9816582826171341]),
    (Lowpass, Q, 48000.0, 5000.0, 2.0, 0.0, 1000.0, 0.2865600885884627, -5.7265368366152085, [0.08967557244689561, 0.17935114489379123, 0.08967557244689561], [-1.3771219925555995, 0.735824282343182]),
    (Lowpass, Q, 48000.0, 5000.0, 2.0, 0.0, 5000.0, 6.0205999132796295, -90.00000000000001, [0.08967557244689561, 0.17935114489379123, 0.08967557244689561], [-1.3771219925555995, 0.735824282343182]),
    (Lowpass, Q, 48000.0, 5000.0, 2.0, 0.0, 15000.0, -25.37593138399422, -173.18214741618323, [0.08967557244689561, 0.17935114489379123, 0.08967557244689561], [-1.3771219925555995, 0.735824282343182]),
    (Bandpass, Q, 48000.0, 1000.0, 1.0, 0.0, 100.0, -19.969203006400413, 84.24037558151537, [0.0612647676882304, 0.0, -0.0612647676882304], [-1.8614084445321082, 0.8774704646235392]),
    (Bandpass, Q, 48000.0, 1000.0, 1.0, 0.0, 500.0, -5.129579757662089, 56.35714769463505, [0.0612647676882304, 0.0, -0.0612647676882304], [-1.8614084445321082, 0.8774704646235392]),
    (Bandpass, Q, 48000.0, 1000.0, 1.0, 0.0, 1000.0, -3.857309866213149e-15, 2.4645803997632376e-13, [0.0612647676882304, 0.0, -0.0612647676882304], [-1.8614084445321082, 0.8774704646235392]),
    (Bandpass, Q, 48000.0, 1000.0, 1.0, 0.0, 2000.0, -5.161977148533693, -56.498983082294956, [0.0612647676882304, 0.0, -0.0612647676882304], [-1.8614084445321082, 0.8774704646235392]),
    (Bandpass, Q, 48000.0, 1000.0, 1.0, 0.0, 10000.0, -21.337451467567668, -85.082057243458, [0.0612647676882304, 0.0, -0.0612647676882304], [-1.8614084445321082, 0.8774704646235392]),
    (BandpassSkirt, Q, 48000.0, 1000.0, 2.0, 0.0, 100.0, -19.936274604494045, 87.11289413873662, [0.06320075755282749, 0.0, -0.06320075755282749], [-1.920229656436938, 0.9367992424471726]),
    (BandpassSkirt, Q, 48000.0, 1000.0, 2.0, 0.0, 1000.0, 6.020599913279634, -4.5243286335233274e-13, [0.06320075755282749, 0.0, -0.06320075755282749], [-1.920229656436938, 0.9367992424471726]),
    (BandpassSkirt, Q, 48000.0, 1000.0, 2.0, 0.0, 10000.0, -21.31344655543087, -87.53649113447273, [0.06320075755282749, 0.0, -0.06320075755282749], [-1.920229656436938, 0.9367992424471726]),
    (Notch, Q, 48000.0, 1000.0, 1.0, 0.0, 100.0, -0.04396025157961106, -5.759624418484594, [0.9387352323117696, -1.8614084445321082, 0.9387352323117696], [-1.8614084445321082, 0.8774704646235392]),
    (Notch, Q, 48000.0, 1000.0, 1.0, 0.0, 500.0, -1.592240884797663, -33.64285230536492, [0.9387352323117696, -1.8614084445321082, 0.9387352323117696], [-1.8614084445321082, 0.8774704646235392]),
    (Notch, Q, 48000.0, 1000.0, 1.0, 0.0, 900.0, -13.677645099057896, -78.04928253171147, [0.9387352323117696, -1.8614084445321082, 0.9387352323117696], [-1.8614084445321082, 0.8774704646235392]),
    (Notch, Q, 48000.0, 1000.0, 1.0, 0.0, 2000.0, -1.5779702412571073, 33.50101691770508, [0.9387352323117696, -1.8614084445321082, 0.9387352323117696], [-1.8614084445321082, 0.8774704646235392]),
    (Notch, Q, 48000.0, 1000.0, 1.0, 0.0, 10000.0, -0.032036125488236485, 4.917942756542007, [0.9387352323117696, -1.8614084445321082, 0.9387352323117696], [-1.8614084445321082, 0.8774704646235392]),
    (Allpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 100.0, -8.678947198979589e-15, -16.23624418230943, [0.8310055893467576, -1.815341082704568, 1.0], [-1.815341082704568, 0.8310055893467576]),
    (Allpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 1000.0, -6.7502922658730125e-15, -179.99999999999886, [0.8310055893467576, -1.815341082704568, 1.0], [-1.815341082704568, 0.8310055893467576]),
    (Allpass, Q, 48000.0, 1000.0, SQRT_HALF, 0.0, 10000.0, -1.9286549331065747e-15, 13.876081818763428, [0.8310055893467576, -1.815341082704568, 1.0], [-1.815341082704568, 0.8310055893467576]),
];

fn design(r: &Row) -> Coefs {
    let (kind, form, fs, f0, qs, g) = (r.0, r.1, r.2, r.3, r.4, r.5);
    match form {
        Q => Coefs::rbj(kind, fs, f0, qs, g),
        Slope => Coefs::shelf_slope(kind, fs, f0, qs, g),
    }
}

/// DTFT at `hz` of the impulse response of `cascade` (channel `ch` of `channels`), `n` samples.
fn measured_db(cascade: &mut Cascade, fs: f64, hz: f64, n: usize) -> f64 {
    let channels = cascade.channels();
    let mut bufs: Vec<Vec<f32>> = vec![vec![0.0; n]; channels];
    for b in bufs.iter_mut() {
        b[0] = 1.0;
    }
    let mut refs: Vec<&mut [f32]> = bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
    for chunk_start in (0..n).step_by(512) {
        let mut part: Vec<&mut [f32]> = refs
            .iter_mut()
            .map(|b| &mut b[chunk_start..(chunk_start + 512).min(n)])
            .collect();
        cascade.process_in_place(&mut part);
    }
    let h = &bufs[channels - 1];
    let w = 2.0 * std::f64::consts::PI * hz / fs;
    let (mut re, mut im) = (0.0f64, 0.0f64);
    for (k, &v) in h.iter().enumerate() {
        let (s, c) = (w * k as f64).sin_cos();
        re += v as f64 * c;
        im -= v as f64 * s;
    }
    10.0 * (re * re + im * im).log10()
}

#[test]
fn rbj_table_analytic_and_coefficients() {
    let mut worst: f64 = 0.0;
    for r in RBJ_TABLE.iter() {
        let c = design(r);
        let db = c.magnitude_db(r.2, r.6);
        assert!(
            (db - r.7).abs() < 0.01,
            "{:?} f0 {} @ {} Hz: {db} vs {}",
            r.0,
            r.3,
            r.6,
            r.7
        );
        worst = worst.max((db - r.7).abs());
        let ph = c.phase_deg(r.2, r.6);
        let dph = (ph - r.8 + 540.0).rem_euclid(360.0) - 180.0;
        assert!(dph.abs() < 1e-6, "{:?} phase {ph} vs {}", r.0, r.8);
        for (a, b) in [c.b0, c.b1, c.b2, c.a1, c.a2]
            .iter()
            .zip(r.9.iter().chain(r.10.iter()))
        {
            assert!((a - b).abs() < 1e-12, "{:?} coefficient {a} vs {b}", r.0);
        }
    }
    eprintln!(
        "RBJ table analytic: worst |error| = {worst:.2e} dB over {} rows",
        RBJ_TABLE.len()
    );
    assert!(worst < 1e-8);
}

#[test]
fn rbj_table_measured_through_processor() {
    let mut worst: f64 = 0.0;
    for r in RBJ_TABLE.iter() {
        for channels in [1usize, 2, 5] {
            let mut cas = Cascade::new(channels, r.2, 1);
            cas.set_coefs(0, &design(r));
            let db = measured_db(&mut cas, r.2, r.6, 1 << 16);
            assert!(
                (db - r.7).abs() < 0.01,
                "{:?} f0 {} @ {} Hz ({channels} ch): measured {db} vs {}",
                r.0,
                r.3,
                r.6,
                r.7
            );
            worst = worst.max((db - r.7).abs());
        }
    }
    eprintln!("RBJ table measured (impulse response through Cascade, 65536-sample DTFT): worst |error| = {worst:.2e} dB");
}

#[test]
fn cookbook_identities() {
    let fs = 48_000.0;
    for &f0 in &[40.0, 250.0, 1000.0, 6000.0, 15000.0] {
        for &g in &[-18.0, -6.0, 3.0, 12.0] {
            for &q in &[0.3, SQRT_HALF, 2.0, 8.0] {
                let bell = Coefs::rbj(Bell, fs, f0, q, g).magnitude_db(fs, f0);
                assert!((bell - g).abs() < 1e-9, "bell {f0} {g} {q}: {bell}");
                for kind in [LowShelf, HighShelf] {
                    let sh = Coefs::rbj(kind, fs, f0, q, g).magnitude_db(fs, f0);
                    assert!((sh - g / 2.0).abs() < 1e-9, "{kind:?} {f0} {g} {q}: {sh}");
                }
                let slope = Coefs::shelf_slope(LowShelf, fs, f0, 1.0, g).magnitude_db(fs, f0);
                assert!((slope - g / 2.0).abs() < 1e-9);
            }
        }
        for &q in &[0.5, SQRT_HALF, 1.0, 4.0] {
            for kind in [Lowpass, Highpass] {
                let m = Coefs::rbj(kind, fs, f0, q, 0.0).magnitude_db(fs, f0);
                assert!((m - 20.0 * q.log10()).abs() < 1e-9, "{kind:?}: {m}");
            }
            let ap = Coefs::rbj(Allpass, fs, f0, q, 0.0);
            for k in 1..200 {
                let f = k as f64 * 119.0;
                assert!(ap.magnitude_db(fs, f).abs() < 1e-9, "allpass at {f}");
            }
            assert!((ap.phase_deg(fs, f0).abs() - 180.0).abs() < 1e-6);
            assert!(Coefs::rbj(Notch, fs, f0, q, 0.0).magnitude_db(fs, f0) < -120.0);
            let bp = Coefs::rbj(Bandpass, fs, f0, q, 0.0).magnitude_db(fs, f0);
            assert!(bp.abs() < 1e-9);
            let sk = Coefs::rbj(BandpassSkirt, fs, f0, q, 0.0).magnitude_db(fs, f0);
            assert!((sk - 20.0 * q.log10()).abs() < 1e-9);
        }
    }
    // The §3 identities through the f32 processor too.
    let mut c = Cascade::new(2, fs, 1);
    c.set_coefs(0, &Coefs::rbj(Bell, fs, 1000.0, 1.0, 6.0));
    assert!((measured_db(&mut c, fs, 1000.0, 1 << 15) - 6.0).abs() < 0.005);
    let mut c = Cascade::new(2, fs, 1);
    c.set_coefs(0, &Coefs::rbj(Allpass, fs, 1000.0, SQRT_HALF, 0.0));
    for f in [30.0, 1000.0, 12000.0, 23000.0] {
        assert!(measured_db(&mut c, fs, f, 1 << 15).abs() < 0.001);
        c.reset();
    }
}

#[test]
fn butterworth_cutoff_and_slope() {
    let fs = 48_000.0;
    for order in [2usize, 4, 6, 8] {
        let lp = butterworth(Lowpass, order, fs, 100.0).unwrap();
        let hp = butterworth(Highpass, order, fs, 1000.0).unwrap();
        assert_eq!(lp.len(), order / 2);
        let at = |c: &[Coefs], f: f64| c.iter().map(|s| s.magnitude_db(fs, f)).sum::<f64>();
        let (lpc, hpc) = (at(&lp, 100.0), at(&hp, 1000.0));
        assert!(
            (lpc + 3.0103).abs() < 0.001 && (hpc + 3.0103).abs() < 0.001,
            "order {order}: {lpc} {hpc}"
        );
        // slope per octave measured 2→3 octaves beyond the cutoff
        let lps = at(&lp, 800.0) - at(&lp, 400.0);
        let hps = at(&hp, 125.0) - at(&hp, 250.0);
        let want = -6.0206 * order as f64;
        assert!(
            (lps - want).abs() < 0.05 && (hps - want).abs() < 0.05,
            "order {order}: {lps} {hps} want {want}"
        );
        // maximally flat pass band
        assert!(at(&lp, 10.0).abs() < 0.01 && at(&hp, 10_000.0).abs() < 0.01);
        // measured through the processor
        let mut cas = Cascade::new(2, fs, lp.len());
        for (i, c) in lp.iter().enumerate() {
            cas.set_coefs(i, c);
        }
        let m = measured_db(&mut cas, fs, 100.0, 1 << 16);
        assert!((m + 3.0103).abs() < 0.01, "order {order} measured {m}");
        eprintln!(
            "butterworth order {order}: LP −3 dB point {lpc:.4} dB (measured {m:.4}), HP {hpc:.4} dB; slope LP {lps:.3} HP {hps:.3} dB/oct (want {want:.3})"
        );
    }
    assert!(butterworth(Lowpass, 3, fs, 100.0).is_err());
    assert!(butterworth(Bell, 2, fs, 100.0).is_err());
    assert!(butterworth(Lowpass, 4, fs, 30_000.0).is_err());
}

fn noise(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

#[test]
fn cascade_matches_scalar_reference_bit_exactly() {
    let fs = 48_000.0;
    for &(channels, sections) in &[(1usize, 1usize), (2, 4), (3, 2), (5, 7), (8, 4), (2, 9)] {
        let designs: Vec<Coefs> = (0..sections)
            .map(|k| {
                Coefs::rbj(
                    [Bell, LowShelf, HighShelf, Lowpass, Highpass][k % 5],
                    fs,
                    80.0 * 1.9f64.powi(k as i32),
                    0.7 + 0.2 * k as f64,
                    3.0 - k as f64,
                )
            })
            .collect();
        let mut cas = Cascade::new(channels, fs, sections);
        for (i, c) in designs.iter().enumerate() {
            cas.set_coefs(i, c);
        }
        let input: Vec<Vec<f32>> = (0..channels).map(|c| noise(3000, c as u64 + 1)).collect();
        let mut out: Vec<Vec<f32>> = vec![vec![0.0; 3000]; channels];
        for (a, b) in [(0usize, 700usize), (700, 701), (701, 3000)] {
            let ins: Vec<&[f32]> = input.iter().map(|v| &v[a..b]).collect();
            let mut outs: Vec<&mut [f32]> = out.iter_mut().map(|v| &mut v[a..b]).collect();
            cas.process(&ins, &mut outs);
        }
        for ch in 0..channels {
            let mut states = vec![BiquadState::default(); sections];
            for (i, &x) in input[ch].iter().enumerate() {
                // The cascade keeps f64 between sections (within groups of 4), so chain in f64 here too.
                let mut v = x as f64;
                for (k, (s, c)) in states.iter_mut().zip(&designs).enumerate() {
                    let y = c.b0 * v + s.z1;
                    // TDF-II, summed in the order the kernel uses (the feedforward part first)
                    s.z1 = (c.b1 * v + s.z2) - c.a1 * y;
                    s.z2 = c.b2 * v - c.a2 * y;
                    // groups of 4 sections hand over through the f32 buffer
                    v = if k % 4 == 3 { y as f32 as f64 } else { y };
                }
                assert_eq!(
                    (v as f32).to_bits(),
                    out[ch][i].to_bits(),
                    "{channels} ch × {sections} sections: ch {ch} sample {i}"
                );
            }
        }
    }
}

#[test]
fn parameter_ramp_is_smooth_and_lands_exactly() {
    let fs = 48_000.0;
    let from = FilterParams {
        kind: Bell,
        hz: 200.0,
        q: 0.5,
        gain_db: -12.0,
    };
    let to = FilterParams {
        kind: Bell,
        hz: 5000.0,
        q: 4.0,
        gain_db: 12.0,
    };
    let mut cas = Cascade::new(1, fs, 1);
    cas.set_smoothing_ms(20.0);
    cas.set_params_immediate(0, from).unwrap();
    let n = 4096;
    let x: Vec<f32> = (0..n)
        .map(|i| (2.0 * std::f64::consts::PI * 1000.0 * i as f64 / fs).sin() as f32)
        .collect();
    let mut y = x.clone();
    cas.set_params(0, to).unwrap();
    for chunk in y.chunks_mut(100) {
        cas.process_in_place(&mut [chunk]);
    }
    assert!(!cas.is_ramping());
    assert_eq!(cas.coefs(0), Coefs::rbj(Bell, fs, 5000.0, 4.0, 12.0));
    // Reference: exact f64 coefficients recomputed every sample along the same log/dB path.
    let steps = 60.0; // 20 ms / 16 samples
    let (mut z1, mut z2) = (0.0f64, 0.0f64);
    let mut worst: f64 = 0.0;
    for i in 0..n {
        let t = (i as f64 / (steps * 16.0)).min(1.0);
        let lerp = |a: f64, b: f64| (a.ln() + (b.ln() - a.ln()) * t).exp();
        let c = Coefs::rbj(
            Bell,
            fs,
            lerp(from.hz, to.hz),
            lerp(from.q, to.q),
            from.gain_db + (to.gain_db - from.gain_db) * t,
        );
        let xv = x[i] as f64;
        let yv = c.b0 * xv + z1;
        z1 = c.b1 * xv - c.a1 * yv + z2;
        z2 = c.b2 * xv - c.a2 * yv;
        worst = worst.max((yv - y[i] as f64).abs());
    }
    let worst_db = 20.0 * worst.log10();
    eprintln!("ramp bell 200 Hz/−12 dB/Q 0.5 → 5 kHz/+12 dB/Q 4 in 20 ms: max deviation from per-sample exact recompute = {worst_db:.1} dBFS");
    assert!(worst_db < -50.0);
}

#[test]
fn denormals_are_flushed() {
    let mut cas = Cascade::new(2, 48_000.0, 2);
    cas.set_coefs(0, &Coefs::rbj(Lowpass, 48_000.0, 50.0, 0.7, 0.0));
    cas.set_coefs(1, &Coefs::rbj(Bell, 48_000.0, 3000.0, 3.0, 6.0));
    let mut a = vec![0.0f32; 512];
    let mut b = vec![0.0f32; 512];
    a[0] = 1.0;
    b[0] = -1.0;
    cas.process_in_place(&mut [&mut a, &mut b]);
    for _ in 0..2000 {
        a.iter_mut().for_each(|v| *v = 0.0);
        b.iter_mut().for_each(|v| *v = 0.0);
        cas.process_in_place(&mut [&mut a, &mut b]);
        cas.flush();
        assert!(a.iter().chain(b.iter()).all(|v| *v == 0.0 || v.is_normal()));
    }
    assert!(cas.states.iter().flatten().flatten().all(|&v| v == 0.0));
    assert!(cas.is_at_rest());
}

#[test]
fn bad_parameters_are_errors_not_panics() {
    let fs = 48_000.0;
    let e = Coefs::try_rbj(Bell, fs, 1000.0, 0.0, 3.0).unwrap_err();
    assert_eq!(e.param, "q");
    let e = Coefs::try_rbj(Bell, fs, 24_000.0, 1.0, 3.0).unwrap_err();
    assert_eq!(e.param, "hz");
    assert!(e.to_string().contains("Nyquist"));
    assert_eq!(
        Coefs::try_rbj(Lowpass, fs, -5.0, 1.0, 0.0)
            .unwrap_err()
            .param,
        "hz"
    );
    assert_eq!(
        Coefs::try_rbj(Bell, fs, 100.0, f64::NAN, 0.0)
            .unwrap_err()
            .param,
        "q"
    );
    for (hz, q, g) in [
        (0.0, 0.0, 0.0),
        (1e9, -1.0, 1e9),
        (f64::NAN, f64::NAN, f64::NAN),
    ] {
        for kind in [
            Lowpass,
            Highpass,
            Bandpass,
            BandpassSkirt,
            Notch,
            Bell,
            LowShelf,
            HighShelf,
            Allpass,
        ] {
            let c = Coefs::rbj(kind, fs, hz, q, g);
            assert!(
                [c.b0, c.b1, c.b2, c.a1, c.a2].iter().all(|v| v.is_finite()),
                "{kind:?}"
            );
        }
    }
    let mut cas = Cascade::new(2, fs, 1);
    assert_eq!(
        cas.set_params(
            0,
            FilterParams {
                kind: Bell,
                hz: 30_000.0,
                q: 1.0,
                gain_db: 0.0
            }
        )
        .unwrap_err()
        .param,
        "hz"
    );
    assert!(cas
        .set_params(
            3,
            FilterParams {
                kind: Bell,
                hz: 300.0,
                q: 1.0,
                gain_db: 0.0
            }
        )
        .is_err());
}

/// Release-mode speed probe: `cargo test --release -- --ignored --nocapture speed`.
#[test]
#[ignore]
fn speed_eq4_stereo() {
    let fs = 48_000.0;
    let n = 48_000 * 20;
    let mut l = noise(n, 1);
    let mut r = noise(n, 2);
    for (channels, label) in [(2usize, "stereo"), (1, "mono"), (4, "quad")] {
        let mut cas = Cascade::new(channels, fs, 4);
        cas.set_coefs(0, &Coefs::rbj(LowShelf, fs, 100.0, SQRT_HALF, 3.0));
        cas.set_coefs(1, &Coefs::rbj(Bell, fs, 400.0, 1.0, -2.0));
        cas.set_coefs(2, &Coefs::rbj(Bell, fs, 2500.0, 2.0, 2.0));
        cas.set_coefs(3, &Coefs::rbj(HighShelf, fs, 8000.0, SQRT_HALF, -3.0));
        let mut extra: Vec<Vec<f32>> = vec![noise(n, 3); channels.saturating_sub(2)];
        let t = std::time::Instant::now();
        for i in (0..n).step_by(512) {
            let e = (i + 512).min(n);
            let mut bufs: Vec<&mut [f32]> = vec![&mut l[i..e], &mut r[i..e]];
            for x in extra.iter_mut() {
                bufs.push(&mut x[i..e]);
            }
            bufs.truncate(channels);
            cas.process_in_place(&mut bufs);
        }
        let ns = t.elapsed().as_nanos() as f64 / (n * channels) as f64;
        eprintln!(
            "4-band EQ {label}: {ns:.3} ns per sample per channel = {:.3} ns per biquad-sample",
            ns / 4.0
        );
    }
    eprintln!("{}", l[1000] + r[2000]);
}

#[test]
fn recovers_from_nan_input() {
    let mut cas = Cascade::new(2, 48_000.0, 2);
    cas.set_coefs(0, &Coefs::rbj(Bell, 48_000.0, 1000.0, 1.0, 6.0));
    let mut a = vec![0.5f32; 64];
    a[3] = f32::NAN;
    let mut b = vec![f32::INFINITY; 64];
    cas.process_in_place(&mut [&mut a, &mut b]);
    cas.flush();
    let mut a = vec![0.25f32; 64];
    let mut b = vec![0.25f32; 64];
    cas.process_in_place(&mut [&mut a, &mut b]);
    assert!(a.iter().chain(&b).all(|v| v.is_finite()));
}
