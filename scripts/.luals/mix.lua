---@meta
-- LuaLS annotations for mixdown mix scripts. Generated from mixdown's node registry
-- (engine/src/registry/docs.rs); do not edit by hand. Not loaded by mixdown; editors read it
-- for completion and type checks (see README, "Editor support").

---@class mix
mix = {}

---A number of seconds, or a time from mix.bar / mix.beat / mix.note.
---@alias Seconds number

---@class SessionOptions
---@field sample_rate? integer Frames per second (8000 to 384000), default 48000.
---@field tempo_bpm? number Quarter-note beats per minute (20 to 400), default 120.
---@field time_signature? string|integer[] "4/4", "6/8" or {4, 4}, default "4/4".
---@field length_s? number Song length in seconds; every source ends there (default: the longest source).
---@field length_bars? number Song length in bars at this call's tempo (instead of length_s).

---Session settings; call it before any track or bus.
---@param opts SessionOptions
function mix.session(opts) end

---A bus: a channel strip that sums what is routed or sent to it.
---@param name string
---@return Strip
function mix.bus(name) end

---The master bus; its output is the mix.
---@type Strip
mix.master = nil

---Start of bar n (1-based) in seconds at the session tempo.
---@param n number
---@return Seconds
function mix.bar(n) end

---Start of beat n (1-based, counted from the song's start) in seconds.
---@param n number
---@return Seconds
function mix.beat(n) end

---A note value in seconds: mix.note(1/8) or mix.note("1/8."), "1/8t".
---@param value number|string
---@return Seconds
function mix.note(value) end

---Values given with --set key=value: integers stay integers, other numbers are floats, the rest strings.
---@type table<string, string|number>
mix.args = {}

---@class RenderOptions
---@field path string Output file, relative to the script (inside its folder or the command line's -o/--out-dir/--allow-write).
---@field format? "wav16"|"wav24"|"wav32f" Default "wav24" (16/24-bit with TPDF dither).
---@field stems? boolean Also write one file per bus, default false.

---Records a render job for `mixdown render`.
---@param opts RenderOptions
function mix.render(opts) end

---@class AlbumOptions
---@field songs string[] Mix scripts or audio files, in order.
---@field target_lufs? number Default -14.
---@field ceiling_db? number True-peak ceiling, default -1.
---@field mode? "track"|"album" Default "track".
---@field chain? string|function A graph module (require "mastering.streaming") or its name; default: a loudness stage only.
---@field match_eq? boolean Gentle EQ toward the album's average balance, default false.
---@field reference? string Audio file whose balance the matching EQ aims at.
---@field out? string Output pattern with %s for the song name, default "out/%s.wav".
---@field continuous? string One album file with gaps and fades.
---@field gap_s? number Default 2.
---@field fade_s? number Default 0.
---@field format? "wav16"|"wav24"|"wav32f" Default "wav24".

---Masters several songs together (rendered by `mixdown render`).
---@param opts AlbumOptions
function mix.album(opts) end

---@class Band
---@field hz number Centre/corner frequency in Hz (10 Hz to below Nyquist).
---@field q? number Q (above 0 up to 40), default 0.7071.
---@field gain_db? number Gain in dB (bell and shelves), -48 to 48, default 0.
---@field slope? number Shelf slope S (above 0 up to 1), instead of q.

---@param b Band
---@return Band
function mix.bell(b) end
---@param b Band
---@return Band
function mix.low_shelf(b) end
---@param b Band
---@return Band
function mix.high_shelf(b) end
---@param b Band
---@return Band
function mix.highpass(b) end
---@param b Band
---@return Band
function mix.lowpass(b) end
---@param b Band
---@return Band
function mix.notch(b) end
---@param b Band
---@return Band
function mix.bandpass(b) end
---@param b Band
---@return Band
function mix.allpass(b) end

---An automatable parameter. Before its first event a parameter holds its static value (or,
---when none was given, the first event's value). Events must come in time order.
---@class Param
local Param = {}
---Jump to `value` at time `t`.
---@param t Seconds
---@param value number|boolean
---@return Param
function Param:set(t, value) end
---Linear ramp from the previous event to `value` at `t`.
---@param t Seconds
---@param value number|boolean
---@return Param
function Param:linear_to(t, value) end
---Exponential ramp from the previous event to `value` at `t`.
---@param t Seconds
---@param value number
---@return Param
function Param:exp_to(t, value) end
---From `t`, approach `value` with time constant `tau_s`.
---@param t Seconds
---@param value number
---@param tau_s number
---@return Param
function Param:target(t, value, tau_s) end
---A curve through points {t, v}.
---@param points number[][]
---@return Param
function Param:curve(points) end

---A node inserted on a strip; index it by parameter id for automation (e.g. comp.threshold_db).
---@class Node
---@field path string
---@field [string] Param

---A channel strip (track, bus or master).
---@class Strip
---@field name string
---@field gain_db Param Fader in dB (-120 to 48); on the master it comes after the inserts.
---@field pan Param -1 to 1.
---@field source Node A track's source, for automating its parameters (lead.source.hz:linear_to(t, 880)).
local Strip = {}
---@param dest Strip
---@return Strip
function Strip:to(dest) end
---@param dest Strip
---@param opts? {gain_db?: number, pre?: boolean}
---@return Node
function Strip:send(dest, opts) end
---Any insert by name: strip:insert("comp", { ... }).
---@param kind string
---@param opts? table
---@return Node
function Strip:insert(kind, opts) end

---@class TrackOptions
---@field file? string Audio file (WAV, FLAC, MP3, Ogg Vorbis), relative to the script.
---@field gain_db? number Fader in dB (-120 dB to 48 dB).
---@field pan? number -1 (left) to 1 (right).
---@field trim? number|{start_s?: number, length_s?: number} Seconds skipped at the file's start, or a range.
---@field osc? "sine"|"saw"|"square"|"triangle" osc: waveform ("sine", "saw", "square" or "triangle")
---@field start_s? number osc: when the source starts, seconds into the song (0 s to 36000 s, default 0)
---@field length_s? number osc: how long it plays (default: to the session's length_s) (0 s to 36000 s)
---@field hz? number osc: frequency in Hz (1 Hz to 20000 Hz, default 440; automatable)
---@field level_db? number osc: output level in dB (-120 dB to 24 dB, default -12; automatable)
---@field start_bar? number osc: when the source starts, as a bar number (1 = the start) (instead of start_s)
---@field bars? number osc: how long it plays, in bars (instead of length_s)
---@field noise? "white"|"pink" noise: colour ("white" or "pink")
---@field seed? integer noise: random seed (the same seed gives the same sound) (0 to 1000000000000000, default 1)
---@field drum? "kick"|"snare"|"hat"|"open_hat"|"clap" drum: voice ("kick", "snare", "hat", "open_hat" or "clap")
---@field pattern? string drum: the step pattern: drums one character a step (X x o . -), synths space-separated notes, chords, . rests, _ holds (text, at most 100000 characters)
---@field steps_per_beat? integer drum: pattern steps per beat (4 = 16th notes) (1 to 64, default 4)
---@field swing? number drum: delay of every second step, as a share of a step (0 to 0.75, default 0)
---@field synth? "bass"|"pad"|"lead"|"pluck" synth: preset ("bass", "pad", "lead" or "pluck")

---A track: a channel strip with a source (a file or a generator).
---@param name string Unique name (no '/' or ':').
---@param source string|TrackOptions An audio file or an option table.
---@return Strip
function mix.track(name, source) end

---@class HighpassOptions
---@field slope_db? number steepness in dB/octave: 12, 24, 36 or 48 (12 dB to 48 dB, default 12)
---@field hz? number corner frequency in Hz (−3 dB) (10 Hz to 24000 Hz, default 80; automatable)

---@class LowpassOptions
---@field slope_db? number steepness in dB/octave: 12, 24, 36 or 48 (12 dB to 48 dB, default 12)
---@field hz? number corner frequency in Hz (−3 dB) (10 Hz to 24000 Hz, default 12000; automatable)

---@class CompOptions
---@field detection? "peak"|"rms" level detector ("peak" or "rms", default "peak")
---@field rms_ms? number RMS window (detection = "rms") (0.1 ms to 500 ms, default 10)
---@field link? "max"|"average"|"off" stereo link: the loudest channel, the average, or each channel on its own ("max", "average" or "off", default "max")
---@field sidechain_hpf_hz? number high-pass on the detector path (10 Hz to 24000 Hz, below Nyquist)
---@field auto_makeup? boolean add the makeup that restores the level at the threshold (true or false, default false)
---@field lookahead_ms? number lookahead (reported as latency and compensated) (0 ms to 100 ms, default 0)
---@field threshold_db? number threshold in dBFS (-80 dB to 0 dB, default -18; automatable)
---@field ratio? number compression ratio n:1 (1:1 to 100:1, default 4; automatable)
---@field knee_db? number soft-knee width in dB (0 = hard) (0 dB to 48 dB, default 0; automatable)
---@field attack_ms? number attack time constant in ms (0 ms to 2000 ms, default 10; automatable)
---@field release_ms? number release time constant in ms (0 ms to 10000 ms, default 100; automatable)
---@field makeup_db? number makeup gain in dB (-24 dB to 48 dB, default 0; automatable)
---@field sidechain? Strip key the detector from another strip (its post-fader output)

---@class GateOptions
---@field threshold_db? number opening threshold in dBFS (-120 dB to 0 dB, default -50; automatable)
---@field range_db? number attenuation when closed in dB (-120 dB to 0 dB, default -60; automatable)
---@field ratio? number expansion ratio below the threshold (100 acts as a gate) (1:1 to 100:1, default 100; automatable)
---@field attack_ms? number opening time constant in ms (0 ms to 1000 ms, default 1; automatable)
---@field hold_ms? number time held open after the level drops, ms (0 ms to 5000 ms, default 20; automatable)
---@field release_ms? number closing time constant in ms (0 ms to 10000 ms, default 100; automatable)
---@field hysteresis_db? number closes this many dB below the threshold (0 dB to 40 dB, default 3; automatable)
---@field sidechain? Strip key the detector from another strip (its post-fader output)

---@class DeessOptions
---@field hz? number lower edge of the sibilance band (2000 Hz to 24000 Hz, below Nyquist, default 6000)
---@field threshold_db? number level of the band above hz where reduction starts, dBFS (-80 dB to 0 dB, default -30; automatable)
---@field ratio? number compression ratio of the sibilant band (1:1 to 100:1, default 4; automatable)

---@class LimitOptions
---@field lookahead_ms? number lookahead (reported as latency and compensated) (0 ms to 100 ms, default 5)
---@field true_peak? boolean hold the true (inter-sample) peak, not just the sample peak (true or false, default true)
---@field program_release? boolean program-dependent release: back within milliseconds after a transient, at release_ms after sustained reduction (false: always release_ms) (true or false, default true)
---@field ceiling_db? number output ceiling in dBFS (dBTP when true_peak) (-60 dB to 0 dB, default -1; automatable)
---@field release_ms? number release time constant in ms (1 ms to 10000 ms, default 100; automatable)

---@class LoudnessOptions
---@field target_lufs? number integrated loudness to reach (-70 LUFS to 0 LUFS, default -14)
---@field ceiling_db? number true-peak ceiling of the limiter (-60 dBTP to 0 dBTP, default -1)
---@field gain_db? number a fixed gain instead of a target (album mastering) (-60 dB to 60 dB)
---@field release_ms? number the limiter's release; default: chosen per programme, the slowest of 100/30/10/3/1 ms that reaches the target within max_reduction_db (1 ms to 1000 ms)
---@field lookahead_ms? number the limiter's lookahead (its latency) (1 ms to 20 ms, default 5)
---@field max_reduction_db? number budget of average gain reduction (per 512-frame maxima) the limiter may use to reach the target (0.5 dB to 30 dB, default 6)

---@class DelayOptions
---@field ping_pong? boolean alternate the repeats between left and right (true or false, default false)
---@field lowpass_hz? number low-pass in the feedback path (darker repeats) (20 Hz to 24000 Hz, below Nyquist)
---@field highpass_hz? number high-pass in the feedback path (thinner repeats) (10 Hz to 24000 Hz, below Nyquist)
---@field time_ms? number delay time in ms (1 ms to 10000 ms, default 250; automatable)
---@field feedback? number share of the output fed back, 0..0.99 (0 to 0.99, default 0; automatable)
---@field wet? number delayed level, linear 0..1 (0 to 1, default 1; automatable)
---@field dry? number direct level, linear 0..1 (0 to 1, default 0; automatable)
---@field time_s? number delay time in seconds (instead of time_ms)
---@field note? string delay time as a note value at the session tempo: "1/8", "1/8.", "1/8t" (instead of time_ms)

---@class DelayLineOptions
---@field time_s? number delay in seconds (rounded to the nearest frame) (0 s to 10 s, default 0.25)
---@field frames? integer delay in frames (overrides the time); at most 10 s (0 to 7680000)
---@field gain_db? number gain of the delayed signal in dB (-120 dB to 24 dB, default 0; automatable)
---@field time_ms? number delay in milliseconds (instead of time_s)
---@field note? string delay as a note value at the session tempo: "1/8", "1/8." (dotted), "1/8t" (triplet) (instead of time_s)

---@class ReverbOptions
---@field decay_s? number RT60 decay time in seconds (0.1 s to 30 s, default 2; automatable)
---@field predelay_ms? number delay before the reverb starts, ms (0 ms to 500 ms, default 20; automatable)
---@field damping? number high-frequency damping 0..1 (1: highs decay 10x faster) (0 to 1, default 0.5; automatable)
---@field size? number room size 0..1 (scales the delay lines) (0 to 1, default 0.7; automatable)
---@field wet? number reverb level, linear 0..1 (0 to 1, default 1; automatable)
---@field dry? number direct level, linear 0..1 (0 on a send bus) (0 to 1, default 0; automatable)

---@class SaturateOptions
---@field curve? "tanh"|"soft"|"hard" transfer curve ("tanh", "soft" or "hard", default "tanh")
---@field oversample? number oversampling factor: 1, 2, 4, 8 or 16 (1 to 16, default 8)
---@field auto_gain? boolean compensate the drive so the level stays about the same (true or false, default false)
---@field drive_db? number input gain into the curve, dB (0 dB to 48 dB, default 6; automatable)
---@field mix? number wet share, 0..1 (dry is delay-matched) (0 to 1, default 1; automatable)
---@field output_db? number output gain, dB (-48 dB to 24 dB, default 0; automatable)

---@class WidthOptions
---@field mono_below_hz? number fold everything below this to mono (Linkwitz–Riley 8th order) (20 Hz to 1000 Hz)
---@field width? number stereo width: 0 mono, 1 unchanged, 2 double side (0 to 2, default 1; automatable)

---@class MultibandOptions
---@field crossovers_hz? number[] crossover frequencies, rising: 1 to 3 of them make 2 to 4 bands (10 Hz to 24000 Hz, below Nyquist, default {200, 2000, 8000})
---@field b1_threshold_db? number band threshold, dBFS (-80 dB to 0 dB, default -20; automatable)
---@field b1_ratio? number band ratio (1 = no compression) (1:1 to 100:1, default 1; automatable)
---@field b2_threshold_db? number band threshold, dBFS (-80 dB to 0 dB, default -20; automatable)
---@field b2_ratio? number band ratio (1 = no compression) (1:1 to 100:1, default 1; automatable)
---@field b3_threshold_db? number band threshold, dBFS (-80 dB to 0 dB, default -20; automatable)
---@field b3_ratio? number band ratio (1 = no compression) (1:1 to 100:1, default 1; automatable)
---@field b4_threshold_db? number band threshold, dBFS (-80 dB to 0 dB, default -20; automatable)
---@field b4_ratio? number band ratio (1 = no compression) (1:1 to 100:1, default 1; automatable)
---@field attack_ms? number attack time constant, ms (0 ms to 2000 ms, default 10; automatable)
---@field release_ms? number release time constant, ms (0 ms to 10000 ms, default 150; automatable)

---@class GainOptions
---@field gain_db? number gain in dB; −120 is silence (-120 dB to 48 dB, default 0; automatable)

---@class PolarityOptions
---@field invert? number|boolean 1 inverts the polarity, 0 passes the signal unchanged (0/1 or false/true, default 1; automatable)

---@class MuteOptions
---@field mute? number|boolean 1 mutes, 0 lets the signal through (0/1 or false/true, default 1; automatable)

---@class MeterOptions

---Parametric EQ of up to 8 RBJ-cookbook bands (bell, shelves, high/low-pass, notch, band-pass, all-pass); band n has `b<n>_hz`, `b<n>_q`, `b<n>_gain_db`, all automatable.
---@param bands Band[] Up to 8 bands: mix.bell{...}, mix.low_shelf{...}, ...
---@return Node
function Strip:eq(bands) end
---Butterworth high-pass (−3.01 dB at `hz`, automatable).
---@param opts? HighpassOptions
---@return Node
function Strip:highpass(opts) end
---Butterworth low-pass (−3.01 dB at `hz`, automatable).
---@param opts? LowpassOptions
---@return Node
function Strip:lowpass(opts) end
---Feed-forward compressor: soft knee (Giannoulis–Massberg–Reiss), one-pole attack/release (63 % at the stated time), peak or RMS detection, stereo link, makeup, sidechain input with its own high-pass, optional lookahead (compensated).
---@param opts? CompOptions
---@return Node
function Strip:comp(opts) end
---Noise gate and downward expander (ratio 100 gates, lower ratios expand), with hold, hysteresis and an optional sidechain key.
---@param opts? GateOptions
---@return Node
function Strip:gate(opts) end
---Split-band de-esser: the band above `hz` is compressed, the rest is untouched.
---@param opts? DeessOptions
---@return Node
function Strip:deess(opts) end
---Lookahead brick-wall limiter, true-peak aware: the output's true peak stays at or below `ceiling_db` as `mixdown measure` reads it (16 points per sample, 128-tap windowed sinc), and BS.1770's 4× filter reads no more. Latency: the lookahead plus 280 samples in true-peak mode (`lookahead_ms = 0` still holds the ceiling), compensated.
---@param opts? LimitOptions
---@return Node
function Strip:limit(opts) end
---Brings the programme to `target_lufs` (integrated, BS.1770 gated) into a true-peak limiter at `ceiling_db`; offline it measures the whole programme and corrects closed loop (within 0.05 LU), choosing the limiter's release unless `release_ms` is given, within an average gain-reduction budget `max_reduction_db`, and says which limit (ceiling or budget) stops a target it cannot reach. `gain_db` applies a fixed gain instead.
---@param opts? LoudnessOptions
---@return Node
function Strip:loudness(opts) end
---A musical echo: time in ms or note values (automatable, glides without clicks), feedback, ping-pong, filtered feedback, wet/dry. Fractional times (e.g. `1/8.` at 44.1 kHz) are read through a windowed-sinc interpolator, so every repeat keeps its level within 0.04 dB up to 16 kHz. On a bus it defaults to wet only (wet 1, dry 0); as a track insert to dry 1, wet 0.35.
---@param opts? DelayOptions
---@return Node
function Strip:delay(opts) end
---A plain delay by a whole number of frames (`gain_db` automatable); the one node that may close a feedback loop in the routing.
---@param opts? DelayLineOptions
---@return Node
function Strip:delay_line(opts) end
---Algorithmic stereo reverb: input diffusion and a modulated 16-line feedback delay network that starts exactly at `predelay_ms` and is dense from the first millisecond; RT60 `decay_s` within 5 % per octave, high-frequency damping, size. On a bus it defaults to wet only (wet 1, dry 0, for sends); as a track insert to dry 1, wet 0.25.
---@param opts? ReverbOptions
---@return Node
function Strip:reverb(opts) end
---Saturation (tanh, soft or hard clipping) with oversampling and, from 4× up, antiderivative anti-aliasing: at the default 8× every alias of a full-scale 10 kHz sine driven by 24 dB stays below −67 dB (relative to the fundamental, every curve, 44.1 and 48 kHz); its latency (51 frames at 8×) is compensated.
---@param opts? SaturateOptions
---@return Node
function Strip:saturate(opts) end
---Stereo width by mid/side (0 mono, 1 unchanged, 2 twice the side), optionally folding the low end to mono.
---@param opts? WidthOptions
---@return Node
function Strip:width(opts) end
---A 2–4 band compressor on Linkwitz–Riley crossovers that sum back flat when nothing compresses; band n has `b<n>_threshold_db` and `b<n>_ratio`.
---@param opts? MultibandOptions
---@return Node
function Strip:multiband(opts) end
---A gain stage: multiplies the signal by `gain_db` (−120 dB is silence).
---@param opts? GainOptions
---@return Node
function Strip:gain(opts) end
---Inverts the signal's polarity while `invert` is 1 (true).
---@param opts? PolarityOptions
---@return Node
function Strip:polarity(opts) end
---Silences the signal while `mute` is 1 (true), with a 5 ms fade so toggling never clicks.
---@param opts? MuteOptions
---@return Node
function Strip:mute(opts) end
---A peak-meter tap: passes the signal through and publishes each channel's peak.
---@param opts? MeterOptions
---@return Node
function Strip:meter(opts) end

---A third-party plugin (CLAP, LV2 or VST3) hosted in-process: `mixdown plugins` lists ids and parameters.
---@param id string "clap:<plugin id>", "lv2:<uri>", "vst3:<class id or name>", or a name matching one installed plugin
---@param params? table<string, number|boolean> Parameters by the plugin's names, in its units
---@param opts? {state?: string, state_out?: string, sidechain?: Strip} A state file to load; where to save the state when a render ends; a strip for the sidechain input
---@return Node
function Strip:plugin(id, params, opts) end
