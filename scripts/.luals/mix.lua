---@meta
-- LuaLS annotations for mixdown mix scripts. Not loaded by mixdown; editors read it for
-- completion and type checks (see README, "Editor support").

---@class mix
mix = {}

---A number of seconds, or a time from mix.bar / mix.beat / mix.note.
---@alias Seconds number

---@class SessionOptions
---@field sample_rate? number Frames per second (8000..384000), default 48000.
---@field tempo_bpm? number Quarter-note beats per minute (20..400), default 120.
---@field time_signature? string|integer[] "4/4", "6/8" or {4, 4}.
---@field length_s? number Song length in seconds; generators without a length stop here.
---@field length_bars? number Song length in bars at this call's tempo (instead of length_s).

---Session settings; call first.
---@param opts SessionOptions
function mix.session(opts) end

---@class TrackOptions
---@field file? string Audio file (WAV, FLAC, MP3, Ogg Vorbis), relative to the script.
---@field gain_db? number Fader in dB (-120..48).
---@field pan? number -1 (left) .. 1 (right).
---@field start_s? number Where the file starts on the timeline, seconds.
---@field trim? number|{start_s?: number, length_s?: number} Seconds skipped at the file's start, or a range.
---@field osc? "sine"|"saw"|"square"|"triangle" Band-limited oscillator source.
---@field hz? number Oscillator frequency in Hz (automatable).
---@field noise? "white"|"pink" Noise source.
---@field drum? "kick"|"snare"|"hat"|"open_hat"|"clap" Drum voice driven by `pattern`.
---@field synth? "bass"|"pad"|"lead"|"pluck" Synth preset driven by `pattern`.
---@field pattern? string Step pattern: "X..x" for drums, "c2 . eb2 _" for synths.
---@field steps_per_beat? integer Steps per beat (1..64), default 4 (16ths).
---@field swing? number 0..0.75.
---@field level_db? number Generator output level in dB (automatable).
---@field start_bar? number Generator starts at this bar (1-based).
---@field bars? number Generator plays this many bars.
---@field length_s? number Generator plays this many seconds.
---@field seed? integer Noise/drum random seed.

---A track: a channel strip with a source.
---@param name string Unique name (no '/' or ':').
---@param source string|TrackOptions An audio file (WAV, FLAC, MP3, Ogg Vorbis) or an option table.
---@return Strip
function mix.track(name, source) end

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

---Values given with --set key=value.
---@type table<string, string|number>
mix.args = {}

---@class RenderOptions
---@field path string Output file, relative to the script.
---@field format? "wav16"|"wav24"|"wav32f" Default wav24 (16/24-bit with TPDF dither).
---@field stems? boolean Also write one file per bus.

---Records a render job for `mixdown render`.
---@param opts RenderOptions
function mix.render(opts) end

---@class AlbumOptions
---@field songs string[] Mix scripts or audio files, in order.
---@field target_lufs? number Default -14.
---@field ceiling_db? number True-peak ceiling, default -1.
---@field mode? "track"|"album"
---@field chain? string|function A graph module (require "mastering.streaming") or its name.
---@field match_eq? boolean Gentle EQ toward the album's average balance.
---@field reference? string Audio file whose balance the matching EQ aims at.
---@field out? string Output pattern with %s for the song name, default "out/%s.wav".
---@field continuous? string One album file with gaps and fades.
---@field gap_s? number Default 2.
---@field fade_s? number Default 0.
---@field format? "wav16"|"wav24"|"wav32f"

---Masters several songs together (rendered by `mixdown render`).
---@param opts AlbumOptions
function mix.album(opts) end

---@class Band
---@field hz number Centre/corner frequency in Hz.
---@field q? number Q (default 0.7071).
---@field gain_db? number Gain in dB (bell and shelves), -48..48.
---@field slope? number Shelf slope S (0..1], instead of q.

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

---An automatable parameter.
---@class Param
local Param = {}
---Jump to `value` at time `t`.
---@param t Seconds
---@param value number
---@return Param
function Param:set(t, value) end
---Linear ramp from the previous event to `value` at `t`.
---@param t Seconds
---@param value number
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

---@class CompOptions
---@field threshold_db? number dBFS, -80..0 (default -18).
---@field ratio? number 1..100 (default 4).
---@field knee_db? number 0..48 (default 0 = hard).
---@field attack_ms? number 0..2000 (default 10).
---@field release_ms? number 0..10000 (default 100).
---@field makeup_db? number -24..48.
---@field auto_makeup? boolean
---@field detection? "peak"|"rms"
---@field rms_ms? number
---@field link? "max"|"average"|"off"
---@field lookahead_ms? number 0..100 (latency-compensated).
---@field sidechain? Strip Key the compressor from another strip.
---@field sidechain_hpf_hz? number High-pass on the detector.

---@class GateOptions
---@field threshold_db? number
---@field range_db? number
---@field ratio? number 100 = gate.
---@field attack_ms? number
---@field hold_ms? number
---@field release_ms? number
---@field hysteresis_db? number
---@field sidechain? Strip

---@class LimitOptions
---@field ceiling_db? number -60..0 (default -1).
---@field release_ms? number (default 100).
---@field lookahead_ms? number 0..100 (default 5).
---@field true_peak? boolean (default true).

---@class LoudnessOptions
---@field target_lufs? number Default -14.
---@field ceiling_db? number True-peak ceiling, default -1.

---@class FilterOptions
---@field hz number Corner frequency (automatable).
---@field slope_db? 12|24|36|48

---@class DelayOptions
---@field time_ms? number Delay time in ms (1..10000, automatable).
---@field time_s? number
---@field note? string "1/8", "1/8." (dotted), "1/8t" (triplet).
---@field feedback? number 0..0.99 (automatable).
---@field ping_pong? boolean
---@field lowpass_hz? number Low-pass in the feedback path.
---@field highpass_hz? number High-pass in the feedback path.
---@field wet? number Linear 0..1 (default 1).
---@field dry? number Linear 0..1 (default 0).

---@class DelayLineOptions
---@field time_ms? number
---@field time_s? number
---@field frames? integer
---@field note? string
---@field gain_db? number

---A channel strip (track, bus or master).
---@class Strip
---@field name string
---@field gain_db Param Fader in dB.
---@field pan Param -1..1.
local Strip = {}
---@param dest Strip
---@return Strip
function Strip:to(dest) end
---@param dest Strip
---@param opts? {gain_db?: number, pre?: boolean}
---@return Node
function Strip:send(dest, opts) end
---@param bands Band[]
---@return Node
function Strip:eq(bands) end
---@param opts FilterOptions
---@return Node
function Strip:highpass(opts) end
---@param opts FilterOptions
---@return Node
function Strip:lowpass(opts) end
---@param opts CompOptions
---@return Node
function Strip:comp(opts) end
---@param opts GateOptions
---@return Node
function Strip:gate(opts) end
---@param opts LimitOptions
---@return Node
function Strip:limit(opts) end
---@param opts LoudnessOptions
---@return Node
function Strip:loudness(opts) end
---The echo effect.
---@param opts DelayOptions
---@return Node
function Strip:delay(opts) end
---A plain delay; the one node that may close a feedback loop.
---@param opts DelayLineOptions
---@return Node
function Strip:delay_line(opts) end
---@param opts {crossovers_hz?: number[], attack_ms?: number, release_ms?: number, b1_threshold_db?: number, b1_ratio?: number, b2_threshold_db?: number, b2_ratio?: number, b3_threshold_db?: number, b3_ratio?: number, b4_threshold_db?: number, b4_ratio?: number}
---@return Node
function Strip:multiband(opts) end
---@param opts {decay_s?: number, predelay_ms?: number, damping?: number, size?: number, wet?: number, dry?: number}
---@return Node
function Strip:reverb(opts) end
---@param opts {drive_db?: number, mix?: number, output_db?: number, curve?: "tanh"|"soft"|"hard", oversample?: integer}
---@return Node
function Strip:saturate(opts) end
---@param opts {width?: number, mono_below_hz?: number}
---@return Node
function Strip:width(opts) end
---@param opts {hz?: number, threshold_db?: number, ratio?: number}
---@return Node
function Strip:deess(opts) end
---@param opts {gain_db?: number}
---@return Node
function Strip:gain(opts) end
---@param opts? {invert?: number}
---@return Node
function Strip:polarity(opts) end
---@param opts? {mute?: number}
---@return Node
function Strip:mute(opts) end
---@return Node
function Strip:meter() end
