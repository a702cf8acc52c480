//! RBJ Audio EQ Cookbook biquads (W3C Note), Butterworth cascades and a fast multichannel cascade.
//!
//! * Design ([`Coefs`]) is done and stored in `f64`, so the analytic response
//!   ([`Coefs::magnitude_db`]) is exact.
//! * Processing ([`Cascade`], [`BiquadState`]) runs transposed direct form II with `f64`
//!   coefficients and state, and `f32` samples in and out. `f32` state is not accurate enough.
//!   TDF-II amplifies state rounding by 1/|A(e^jw)|, which is about 5900 (+75 dB) at low
//!   frequencies for a 100 Hz high-pass at 48 kHz. Measured here, `f32` state read the cookbook's
//!   −40.00 dB point (HPF 100 Hz at 10 Hz) as −40.21 dB. It costs nothing in speed: two `f64` lanes
//!   fill one SSE2 register, so a stereo pair runs the same number of instructions as `f32×4`.
//! * [`Cascade`] packs channels in pairs (one SIMD register) and runs every section per sample,
//!   keeping up to 4 sections' state in registers. Many independent recurrences (channels ×
//!   sections) are then in flight at once, so the cost is throughput-bound rather than
//!   latency-bound.
//! * Parameter automation: [`Cascade::set_params`] ramps log-frequency, log-Q and gain (dB)
//!   linearly over the smoothing time. Exact coefficients are recomputed every [`RAMP_STEP`]
//!   samples and linearly interpolated per sample in between. That avoids zipper noise without
//!   doing any trigonometry per sample.
//! * Denormals: [`Cascade::flush`] sets states below [`DENORMAL_FLUSH`] (or NaN/inf) to zero. The
//!   cascade never flushes on its own: where a flush happens changes the samples after it, so
//!   the node calls it at fixed frames of the song, whatever its block size
//!   ([`crate::nodes::control`]).
//!
//! Thread: any. Allocation: only in constructors. No locks, no panics in `process*`.

use std::f64::consts::PI;
use std::fmt;
use FilterKind::*;

/// An out-of-range parameter; callers turn it into a user message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParamError {
    /// Parameter name as the user writes it (`"hz"`, `"q"`, `"ceiling_db"`...).
    pub param: &'static str,
    /// The rejected value.
    pub value: f64,
    /// The accepted range, human-readable.
    pub range: &'static str,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (p, v, r) = (self.param, self.value, self.range);
        write!(f, "{p} = {v} is out of range; expected {r}")
    }
}

impl std::error::Error for ParamError {}

/// Result of a parameter check.
pub type Checked = Result<(), ParamError>;

/// A closed interval and its human-readable form, for [`in_range`].
pub type Bounds = (f64, f64, &'static str);

/// `Err` unless `ok`.
pub fn check(ok: bool, param: &'static str, value: f64, range: &'static str) -> Checked {
    match ok {
        true => Ok(()),
        false => Err(ParamError {
            param,
            value,
            range,
        }),
    }
}

/// `Err` unless `bounds.0 ≤ value ≤ bounds.1` (NaN fails).
pub fn in_range(param: &'static str, value: f64, bounds: Bounds) -> Checked {
    check(
        value >= bounds.0 && value <= bounds.1,
        param,
        value,
        bounds.2,
    )
}

/// Checks a sample rate: finite and > 0.
pub fn check_sample_rate(sample_rate: f64) -> Checked {
    in_range("sample_rate", sample_rate, (1.0, 1e7, "1..=1e7 Hz"))
}

/// Copies planar `inputs` into `outputs` (shortest lengths); returns the channel count copied.
pub(crate) fn copy_planar(inputs: &[&[f32]], outputs: &mut [&mut [f32]]) -> usize {
    for (o, i) in outputs.iter_mut().zip(inputs) {
        let n = o.len().min(i.len());
        o[..n].copy_from_slice(&i[..n]);
    }
    inputs.len().min(outputs.len())
}

/// Shortest length among the first `channels` buffers and any sidechain buffers.
pub(crate) fn common_len(bufs: &[&mut [f32]], channels: usize, sc: Option<&[&[f32]]>) -> usize {
    let main = bufs.iter().take(channels).map(|b| b.len());
    main.chain(sc.into_iter().flatten().map(|s| s.len()))
        .min()
        .unwrap_or(0)
}

/// Filter shapes of the cookbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FilterKind {
    /// Low-pass, 12 dB/oct, 20·log10(Q) at f0.
    Lowpass,
    /// High-pass, 12 dB/oct, 20·log10(Q) at f0.
    Highpass,
    /// Band-pass with 0 dB peak gain.
    Bandpass,
    /// Band-pass with constant skirt gain (peak gain = Q).
    BandpassSkirt,
    /// Notch (−∞ dB at f0).
    Notch,
    /// Peaking EQ: `gain_db` at f0.
    Bell,
    /// Low shelf: `gain_db` at DC, `gain_db/2` at f0.
    LowShelf,
    /// High shelf: `gain_db` at Nyquist, `gain_db/2` at f0.
    HighShelf,
    /// All-pass: 0 dB everywhere, −180° at f0.
    Allpass,
}

/// Normalised biquad coefficients (a0 = 1): `H(z) = (b0 + b1 z⁻¹ + b2 z⁻²) / (1 + a1 z⁻¹ + a2 z⁻²)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefs {
    /// Feed-forward 0.
    pub b0: f64,
    /// Feed-forward 1.
    pub b1: f64,
    /// Feed-forward 2.
    pub b2: f64,
    /// Feedback 1.
    pub a1: f64,
    /// Feedback 2.
    pub a2: f64,
}

/// Checks an RBJ design: `0 < hz < sample_rate/2`, `q > 0`, `|gain_db| ≤ 120`.
pub fn validate_rbj(sample_rate: f64, hz: f64, q: f64, gain_db: f64) -> Checked {
    check_sample_rate(sample_rate)?;
    let nyquist = "0 < hz < sample_rate/2 (Nyquist)";
    check(hz > 0.0 && hz < 0.5 * sample_rate, "hz", hz, nyquist)?;
    check(q > 0.0 && q <= 1e6, "q", q, "0 < q ≤ 1e6")?;
    in_range("gain_db", gain_db, (-120.0, 120.0, "−120..=120 dB"))
}

/// Shelf slope S (cookbook, `S = 1` is the steepest monotonic shelf) to the equivalent Q.
pub fn shelf_slope_to_q(slope: f64, gain_db: f64) -> f64 {
    let a = 10f64.powf(gain_db / 40.0);
    let inv_q2 = (a + 1.0 / a) * (1.0 / slope - 1.0) + 2.0;
    1.0 / inv_q2.max(1e-12).sqrt()
}

impl Coefs {
    /// From already normalised coefficients.
    pub const fn new(b0: f64, b1: f64, b2: f64, a1: f64, a2: f64) -> Self {
        Self { b0, b1, b2, a1, a2 }
    }

    /// The pass-through filter.
    pub const fn identity() -> Self {
        Self::new(1.0, 0.0, 0.0, 0.0, 0.0)
    }

    /// Normalises `b / a` by `a[0]`.
    pub fn from_raw(b: [f64; 3], a: [f64; 3]) -> Self {
        let k = 1.0 / a[0];
        Self::new(b[0] * k, b[1] * k, b[2] * k, a[1] * k, a[2] * k)
    }

    /// Cookbook design with α = sin(w0)/(2Q) (shelves take Q too; see [`Coefs::shelf_slope`]).
    ///
    /// Never panics: out-of-range values are clamped (`hz` into (0, 0.49999·fs), `q` into
    /// [1e-6, 1e6], `|gain_db| ≤ 120`, NaN to 1 kHz / 1 / 0 dB); [`Coefs::try_rbj`] and
    /// [`validate_rbj`] reject them instead.
    pub fn rbj(kind: FilterKind, sample_rate: f64, hz: f64, q: f64, gain_db: f64) -> Self {
        let fs = if sample_rate > 0.0 { sample_rate } else { 48e3 };
        let hz = (if hz.is_nan() { 1e3 } else { hz }).clamp(1e-6 * fs, 0.49999 * fs);
        let q = (if q.is_nan() { 1.0 } else { q }).clamp(1e-6, 1e6);
        let gain_db = (if gain_db.is_nan() { 0.0 } else { gain_db }).clamp(-120.0, 120.0);
        let (s, c) = (2.0 * PI * hz / fs).sin_cos();
        let alpha = s / (2.0 * q);
        let a = 10f64.powf(gain_db / 40.0);
        let den = [1.0 + alpha, -2.0 * c, 1.0 - alpha];
        let k = 2.0 * a.sqrt() * alpha;
        let (ap, am) = (a + 1.0, a - 1.0);
        let (b, a) = match kind {
            Lowpass => ([(1.0 - c) / 2.0, 1.0 - c, (1.0 - c) / 2.0], den),
            Highpass => ([(1.0 + c) / 2.0, -(1.0 + c), (1.0 + c) / 2.0], den),
            BandpassSkirt => ([q * alpha, 0.0, -q * alpha], den),
            Bandpass => ([alpha, 0.0, -alpha], den),
            Notch => ([1.0, -2.0 * c, 1.0], den),
            Allpass => ([den[2], den[1], den[0]], den),
            Bell => (
                [1.0 + alpha * a, -2.0 * c, 1.0 - alpha * a],
                [1.0 + alpha / a, -2.0 * c, 1.0 - alpha / a],
            ),
            LowShelf => (
                [
                    a * (ap - am * c + k),
                    2.0 * a * (am - ap * c),
                    a * (ap - am * c - k),
                ],
                [ap + am * c + k, -2.0 * (am + ap * c), ap + am * c - k],
            ),
            HighShelf => (
                [
                    a * (ap + am * c + k),
                    -2.0 * a * (am + ap * c),
                    a * (ap + am * c - k),
                ],
                [ap - am * c + k, 2.0 * (am - ap * c), ap - am * c - k],
            ),
        };
        Self::from_raw(b, a)
    }

    /// [`Coefs::rbj`] that rejects out-of-range parameters instead of clamping them.
    pub fn try_rbj(
        kind: FilterKind,
        fs: f64,
        hz: f64,
        q: f64,
        gain_db: f64,
    ) -> Result<Self, ParamError> {
        validate_rbj(fs, hz, q, gain_db)?;
        Ok(Self::rbj(kind, fs, hz, q, gain_db))
    }

    /// Shelf with the cookbook's slope form α = sin(w0)/2·√((A+1/A)(1/S−1)+2); `slope` = S > 0.
    /// `kind` is `HighShelf` or `LowShelf` (anything else designs a low shelf).
    pub fn shelf_slope(kind: FilterKind, fs: f64, hz: f64, slope: f64, gain_db: f64) -> Self {
        let q = shelf_slope_to_q(slope.max(1e-6), gain_db);
        let kind = [LowShelf, HighShelf][(kind == HighShelf) as usize];
        Self::rbj(kind, fs, hz, q, gain_db)
    }

    /// Complex response `(re, im)` at `hz`.
    pub fn response(&self, sample_rate: f64, hz: f64) -> (f64, f64) {
        let w = 2.0 * PI * hz / sample_rate;
        let ((s1, c1), (s2, c2)) = (w.sin_cos(), (2.0 * w).sin_cos());
        let nr = self.b0 + self.b1 * c1 + self.b2 * c2;
        let ni = -(self.b1 * s1 + self.b2 * s2);
        let dr = 1.0 + self.a1 * c1 + self.a2 * c2;
        let di = -(self.a1 * s1 + self.a2 * s2);
        let d = dr * dr + di * di;
        ((nr * dr + ni * di) / d, (ni * dr - nr * di) / d)
    }

    /// Analytic magnitude in dB at `hz` (−∞ at an exact notch).
    pub fn magnitude_db(&self, sample_rate: f64, hz: f64) -> f64 {
        let (re, im) = self.response(sample_rate, hz);
        10.0 * (re * re + im * im).log10()
    }

    /// Analytic phase in degrees at `hz`.
    pub fn phase_deg(&self, sample_rate: f64, hz: f64) -> f64 {
        let (re, im) = self.response(sample_rate, hz);
        im.atan2(re).to_degrees()
    }
}

/// Q of section `index` of an order-`order` Butterworth filter: 1/(2·cos θ), θ = (2k+1)π/(2n).
pub fn butterworth_q(order: usize, index: usize) -> f64 {
    let theta = (2 * index + 1) as f64 * PI / (2 * order.max(2)) as f64;
    1.0 / (2.0 * theta.cos())
}

/// Section `index` (0-based, < order/2) of a Butterworth `Highpass` (or, for any other `kind`,
/// low-pass); allocation-free, for retuning a cutoff on the audio thread.
pub fn butterworth_section(kind: FilterKind, order: usize, i: usize, fs: f64, hz: f64) -> Coefs {
    let kind = [Lowpass, Highpass][(kind == Highpass) as usize];
    Coefs::rbj(kind, fs, hz, butterworth_q(order, i), 0.0)
}

/// Butterworth `Lowpass`/`Highpass` of even `order` 2..=16 (6·order dB/oct): order/2 RBJ sections
/// at the same `hz`, one per conjugate pole pair. The bilinear prewarp at `hz` makes the cascade
/// exactly −3.0103 dB at `hz`.
pub fn butterworth(
    kind: FilterKind,
    order: usize,
    fs: f64,
    hz: f64,
) -> Result<Vec<Coefs>, ParamError> {
    check(
        matches!(kind, Lowpass | Highpass),
        "kind",
        0.0,
        "Lowpass or Highpass",
    )?;
    let (ok, orders) = (order & 1 == 0, "even, 2..=16 (12..=96 dB/oct)");
    check(
        ok && (2..=16).contains(&order),
        "order",
        order as f64,
        orders,
    )?;
    validate_rbj(fs, hz, 1.0, 0.0)?;
    let section = |k| butterworth_section(kind, order, k, fs, hz);
    Ok((0..order / 2).map(section).collect())
}

/// One channel's transposed-direct-form-II state.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BiquadState {
    /// First state variable.
    pub z1: f64,
    /// Second state variable.
    pub z2: f64,
}

/// States below this magnitude are flushed to zero by [`Cascade::flush`].
pub const DENORMAL_FLUSH: f64 = 1e-20;

impl BiquadState {
    /// Filters one sample (`f64` arithmetic, same operation order as [`Cascade`]).
    #[inline(always)]
    pub fn tick(&mut self, c: &Coefs, x: f32) -> f32 {
        let x = x as f64;
        let y = c.b0 * x + self.z1;
        // (b1·x + z2) first: it does not wait for y, so the feedback path is one mul and a sub.
        self.z1 = (c.b1 * x + self.z2) - c.a1 * y;
        self.z2 = c.b2 * x - c.a2 * y;
        y as f32
    }

    /// Filters a block in place (one latency-bound recurrence; prefer [`Cascade`] for speed).
    pub fn process(&mut self, c: &Coefs, buf: &mut [f32]) {
        buf.iter_mut().for_each(|x| *x = self.tick(c, *x));
        self.flush_denormals();
    }

    /// Zeroes states below [`DENORMAL_FLUSH`], and non-finite ones (a NaN/inf input must not
    /// leave the filter broken for good).
    #[inline]
    pub fn flush_denormals(&mut self) {
        flush(&mut self.z1);
        flush(&mut self.z2);
    }
}

#[inline]
fn flush(z: &mut f64) {
    if !(z.abs() >= DENORMAL_FLUSH && z.is_finite()) {
        *z = 0.0;
    }
}

/// Samples between exact coefficient recomputations while a parameter ramps (≈0.33 ms at 48 kHz);
/// coefficients are linearly interpolated per sample in between.
pub const RAMP_STEP: usize = 16;

/// An RBJ filter description for [`Cascade::set_params`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FilterParams {
    /// Shape.
    pub kind: FilterKind,
    /// Centre / corner frequency in Hz.
    pub hz: f64,
    /// Q (shelves: α = sin(w0)/(2Q); convert a slope with [`shelf_slope_to_q`]).
    pub q: f64,
    /// Gain in dB (bell and shelves only).
    pub gain_db: f64,
}

impl FilterParams {
    /// Validates against `sample_rate`.
    pub fn validate(&self, sample_rate: f64) -> Checked {
        validate_rbj(sample_rate, self.hz, self.q, self.gain_db)
    }

    /// The ramped coordinates: ln hz, ln q, gain dB.
    fn coords(&self) -> [f64; 3] {
        [self.hz.ln(), self.q.ln(), self.gain_db]
    }
}

/// Channels per SIMD lane group (two `f64` in one SSE2 register).
const LANES: usize = 2;
type Lanes = [f64; LANES];
/// Lane-broadcast coefficients b0, b1, b2, a1, a2.
type LaneCoefs = [Lanes; 5];

fn lanes(c: &Coefs) -> LaneCoefs {
    [c.b0, c.b1, c.b2, c.a1, c.a2].map(|v| [v; LANES])
}

/// A parameter ramp in [`FilterParams::coords`] space, one step per [`RAMP_STEP`] samples.
#[derive(Clone, Copy, Debug)]
struct Ramp {
    cur: [f64; 3],
    target: FilterParams,
    steps_left: u32,
}

#[derive(Clone, Copy, Debug)]
struct Section {
    /// Exact coefficients: the current ones, or those at the end of the running ramp step.
    coefs: Coefs,
    /// Coefficients in use at the start of the current step (or always, when not ramping).
    start: LaneCoefs,
    /// Per-sample increment during a ramp step (zero otherwise).
    delta: LaneCoefs,
    ramp: Option<Ramp>,
}

impl Section {
    fn fixed(coefs: Coefs, ramp: Option<Ramp>) -> Self {
        let delta = [[0.0; LANES]; 5];
        Self {
            coefs,
            start: lanes(&coefs),
            delta,
            ramp,
        }
    }
}

/// A multichannel cascade of biquads with shared coefficients (all channels get the same EQ).
///
/// Processes planar blocks. Channels are packed in pairs per SIMD lane group and every section runs
/// per sample, so the independent recurrences (channels × sections) overlap. Up to 4 sections keep
/// their state in registers; longer cascades run 4 sections at a time over the block, handing
/// over through the `f32` buffer.
#[derive(Clone, Debug)]
pub struct Cascade {
    channels: usize,
    sample_rate: f64,
    smoothing_steps: u32,
    sections: Vec<Section>,
    /// `[group][section]` → (z1 lanes, z2 lanes).
    states: Vec<[Lanes; 2]>,
    /// Samples already run in the current ramp step (`None`: no step in progress).
    step_done: Option<usize>,
}

impl Cascade {
    /// `sections` identity biquads for `channels` channels. Parameter smoothing defaults to 20 ms.
    pub fn new(channels: usize, sample_rate: f64, sections: usize) -> Self {
        let groups = channels.div_ceil(LANES);
        let mut c = Self {
            channels,
            sample_rate,
            smoothing_steps: 1,
            sections: vec![Section::fixed(Coefs::identity(), None); sections],
            states: vec![[[0.0; LANES]; 2]; groups * sections],
            step_done: None,
        };
        c.set_smoothing_ms(20.0);
        c
    }

    /// Number of sections.
    pub fn sections(&self) -> usize {
        self.sections.len()
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.channels
    }

    /// Ramp time used by [`Cascade::set_params`] (rounded up to whole [`RAMP_STEP`]s; 0 = jump).
    pub fn set_smoothing_ms(&mut self, smoothing_ms: f64) {
        let samples = (smoothing_ms.max(0.0) * 1e-3 * self.sample_rate).min(1e9);
        self.smoothing_steps = (samples / RAMP_STEP as f64).ceil() as u32;
    }

    /// Sets a section's coefficients immediately (state kept). Out-of-range index: ignored.
    pub fn set_coefs(&mut self, section: usize, coefs: &Coefs) {
        if let Some(s) = self.sections.get_mut(section) {
            *s = Section::fixed(*coefs, None);
        }
    }

    /// Current coefficients of a section (identity if out of range).
    pub fn coefs(&self, section: usize) -> Coefs {
        self.sections
            .get(section)
            .map_or(Coefs::identity(), |s| s.coefs)
    }

    /// Moves a section to `params` without zipper noise: frequency and Q ramp geometrically and
    /// gain linearly in dB over the smoothing time. A change of `kind` (or a section that was set
    /// with raw coefficients) jumps instead. Allocation-free; safe on the audio thread.
    pub fn set_params(&mut self, section: usize, params: FilterParams) -> Checked {
        params.validate(self.sample_rate)?;
        let (steps, fs) = (self.smoothing_steps, self.sample_rate);
        let n = self.sections.len() as f64;
        let s = self.sections.get_mut(section);
        let s = s.ok_or(ParamError {
            param: "section",
            value: n,
            range: "< section count",
        })?;
        let (cur, target) = (params.coords(), params);
        *s = match s.ramp {
            Some(r) if r.target.kind == params.kind && steps >= 1 => {
                let ramp = Some(Ramp {
                    cur: r.cur,
                    target,
                    steps_left: steps,
                });
                Section { ramp, ..*s }
            }
            _ => {
                let c = Coefs::rbj(params.kind, fs, params.hz, params.q, params.gain_db);
                Section::fixed(
                    c,
                    Some(Ramp {
                        cur,
                        target,
                        steps_left: 0,
                    }),
                )
            }
        };
        Ok(())
    }

    /// Like [`Cascade::set_params`] but jumps (no ramp), e.g. at initialisation.
    pub fn set_params_immediate(&mut self, section: usize, params: FilterParams) -> Checked {
        let steps = std::mem::replace(&mut self.smoothing_steps, 0);
        let r = self.set_params(section, params);
        self.smoothing_steps = steps;
        r
    }

    /// Like [`Cascade::set_params`] over exactly one [`RAMP_STEP`] from the next sample
    /// processed: the coefficients move linearly to the new design's in 16 samples. Nodes that
    /// apply their parameters every 16 frames of the song ([`crate::nodes::control`]) glide from
    /// one control frame to the next, so a sweep has no steps and the samples do not depend on
    /// the block size. (Must be called between ramp steps, as control frames are.)
    pub fn glide(&mut self, section: usize, params: FilterParams) -> Checked {
        let steps = std::mem::replace(&mut self.smoothing_steps, 1);
        let r = self.set_params(section, params);
        self.smoothing_steps = steps;
        r
    }

    /// Whether any section is still ramping.
    pub fn is_ramping(&self) -> bool {
        self.sections
            .iter()
            .any(|s| s.ramp.is_some_and(|r| r.steps_left > 0))
    }

    /// Analytic magnitude of the whole cascade (current coefficients) at `hz`.
    pub fn magnitude_db(&self, hz: f64) -> f64 {
        let fs = self.sample_rate;
        self.sections
            .iter()
            .map(|s| s.coefs.magnitude_db(fs, hz))
            .sum()
    }

    /// Clears all filter states.
    pub fn reset(&mut self) {
        self.states.iter_mut().for_each(|s| *s = [[0.0; LANES]; 2]);
    }

    /// Filters planar `inputs` into `outputs` (channels beyond [`Cascade::channels`] are left
    /// untouched; the shortest slice sets the length). No allocation.
    pub fn process(&mut self, inputs: &[&[f32]], outputs: &mut [&mut [f32]]) {
        let k = copy_planar(inputs, outputs);
        self.process_in_place(&mut outputs[..k]);
    }

    /// Filters planar buffers in place (no flush: see [`Cascade::flush`]). No allocation.
    pub fn process_in_place(&mut self, buffers: &mut [&mut [f32]]) {
        let nch = buffers.len().min(self.channels);
        let n = common_len(buffers, nch, None);
        let mut start = 0;
        while start < n && !self.sections.is_empty() {
            if self.step_done.is_none() && self.is_ramping() {
                self.begin_ramp_step();
                self.step_done = Some(0);
            }
            let done = self.step_done;
            let end = done.map_or(n, |d| (start + RAMP_STEP - d).min(n));
            self.run(&mut buffers[..nch], start, end, done);
            self.step_done = done.map(|d| d + end - start).filter(|&d| d < RAMP_STEP);
            if done.is_some() && self.step_done.is_none() {
                for s in self.sections.iter_mut() {
                    *s = Section::fixed(s.coefs, s.ramp);
                }
            }
            start = end;
        }
    }

    /// Sets states below [`DENORMAL_FLUSH`] to exactly zero, and non-finite ones (a NaN or
    /// infinite input must not leave the filter broken for good). Call it at fixed frames of
    /// the stream (never at block edges that move), so the output does not depend on how the
    /// stream is cut into blocks. No allocation.
    pub fn flush(&mut self) {
        for z in self.states.iter_mut().flatten().flatten() {
            flush(z);
        }
    }

    /// Whether every filter state is exactly zero and no section is ramping: filtering silence
    /// would then give silence and change nothing.
    pub fn is_at_rest(&self) -> bool {
        !self.is_ramping() && self.states.iter().flatten().flatten().all(|z| *z == 0.0)
    }

    /// Advances every ramping section by one step: exact coefficients at the end of the step, and
    /// the per-sample delta that moves the coefficients there linearly over [`RAMP_STEP`] samples.
    fn begin_ramp_step(&mut self) {
        let fs = self.sample_rate;
        for s in self.sections.iter_mut() {
            let Some(r) = s.ramp.as_mut().filter(|r| r.steps_left > 0) else {
                continue;
            };
            let k = 1.0 / r.steps_left as f64;
            for (c, t) in r.cur.iter_mut().zip(r.target.coords()) {
                *c += (t - *c) * k;
            }
            r.steps_left -= 1;
            // the last step lands exactly on the target's coefficients
            let t = r.target;
            let [hz, q, gain_db] = match r.steps_left {
                0 => [t.hz, t.q, t.gain_db],
                _ => [r.cur[0].exp(), r.cur[1].exp(), r.cur[2]],
            };
            s.coefs = Coefs::rbj(t.kind, fs, hz, q, gain_db);
            let next = lanes(&s.coefs);
            for ((d, a), b) in s.delta.iter_mut().zip(s.start).zip(next) {
                *d = [0, 1].map(|l| (b[l] - a[l]) / RAMP_STEP as f64);
            }
        }
    }

    /// Runs samples `start..end`; `done` = samples of the current ramp step already run.
    fn run(&mut self, bufs: &mut [&mut [f32]], start: usize, end: usize, done: Option<usize>) {
        let nsec = self.sections.len();
        let k = done.unwrap_or(0) as f64;
        for (g, group) in bufs.chunks_mut(LANES).enumerate() {
            let states = &mut self.states[g * nsec..(g + 1) * nsec];
            for (co, st) in self.sections.chunks(4).zip(states.chunks_mut(4)) {
                let mut c = [[[0.0; LANES]; 5]; 4];
                let mut d = [[[0.0; LANES]; 5]; 4];
                for (i, s) in co.iter().enumerate() {
                    d[i] = s.delta;
                    c[i] = s.start;
                }
                let mut io = group.iter_mut().map(|b| &mut b[start..end]);
                let (a, b) = (io.next().unwrap_or_default(), io.next());
                let ramp = done.is_some();
                let r = ramp.then_some(k);
                match (co.len(), b) {
                    (1, None) => kernel::<1, 1>(&c, &d, st, [a], r),
                    (2, None) => kernel::<2, 1>(&c, &d, st, [a], r),
                    (3, None) => kernel::<3, 1>(&c, &d, st, [a], r),
                    (_, None) => kernel::<4, 1>(&c, &d, st, [a], r),
                    (1, Some(b)) => kernel::<1, 2>(&c, &d, st, [a, b], r),
                    (2, Some(b)) => kernel::<2, 2>(&c, &d, st, [a, b], r),
                    (3, Some(b)) => kernel::<3, 2>(&c, &d, st, [a, b], r),
                    (_, Some(b)) => kernel::<4, 2>(&c, &d, st, [a, b], r),
                }
            }
        }
    }
}

/// Runs `S` sections over `C` channels (`st` holds at least `S` states), ramping (`ramp`: the
/// samples of the step already run) or not.
/// Not inlined: each instance gets its own register allocation. (An AVX2 + FMA build of this
/// loop measured 12 % slower on mix16: the recursion is latency-bound, and FMA's latency is
/// longer than an add's on the path from one section to the next.)
#[inline(never)]
fn kernel<const S: usize, const C: usize>(
    c: &[LaneCoefs; 4],
    d: &[LaneCoefs; 4],
    st: &mut [[Lanes; 2]],
    bufs: [&mut [f32]; C],
    ramp: Option<f64>,
) {
    let mut z = [[[0.0; LANES]; 2]; S];
    z.copy_from_slice(&st[..S]);
    let mut cs = [[[0.0; LANES]; 5]; S];
    let mut ds = [[[0.0; LANES]; 5]; S];
    cs.copy_from_slice(&c[..S]);
    ds.copy_from_slice(&d[..S]);
    match ramp {
        Some(k) => run_lanes::<S, C, true>(cs, &ds, k, &mut z, bufs),
        None => run_lanes::<S, C, false>(cs, &ds, 0.0, &mut z, bufs),
    }
    st[..S].copy_from_slice(&z);
}

/// The hot loop: per sample, gather up to [`LANES`] channels into lanes, run all `S` sections,
/// scatter. Coefficients and states are locals so they stay in registers. While ramping, sample
/// `i` uses `c + d × (k + i)` — computed from the step's start, not accumulated, so a step cut
/// into several calls gives the same coefficients bit for bit.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // `i` indexes `C` buffers at once
fn run_lanes<const S: usize, const C: usize, const RAMP: bool>(
    start: [LaneCoefs; S],
    d: &[LaneCoefs; S],
    k: f64,
    st: &mut [[Lanes; 2]; S],
    mut bufs: [&mut [f32]; C],
) {
    let n = bufs.iter().map(|b| b.len()).min().unwrap_or(0);
    for b in bufs.iter_mut() {
        let t = std::mem::take(b);
        *b = &mut t[..n];
    }
    let mut z = *st;
    let mut c = start;
    for i in 0..n {
        if RAMP {
            let at = k + i as f64;
            for ((cs, ss), ds) in c.iter_mut().zip(&start).zip(d.iter()) {
                for ((cj, sj), dj) in cs.iter_mut().zip(ss).zip(ds) {
                    cj[0] = sj[0] + dj[0] * at;
                    cj[1] = sj[1] + dj[1] * at;
                }
            }
        }
        let mut x: Lanes = [0.0; LANES];
        for ch in 0..C {
            x[ch] = bufs[ch][i] as f64;
        }
        for s in 0..S {
            let [b0, b1, b2, a1, a2] = &c[s];
            let [z1, z2] = &mut z[s];
            let mut y: Lanes = [0.0; LANES];
            for l in 0..LANES {
                y[l] = b0[l] * x[l] + z1[l];
                z1[l] = (b1[l] * x[l] + z2[l]) - a1[l] * y[l];
                z2[l] = b2[l] * x[l] - a2[l] * y[l];
            }
            x = y;
        }
        for ch in 0..C {
            bufs[ch][i] = x[ch] as f32;
        }
    }
    *st = z;
}

#[cfg(test)]
#[path = "biquad_tests.rs"]
mod tests;
