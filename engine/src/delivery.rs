//! What happens to a master on delivery: the gain each streaming platform's or broadcast
//! standard's loudness normalisation would apply, and the true peak that results — flagging
//! every case where it lands over what that platform or standard allows.
//!
//! Platforms turn loud masters down to their reference; some also turn quiet masters up, but
//! only as far as their peak limit allows (Spotify's "normal" mode stops raising where the true
//! peak would pass −1 dBTP). Broadcast standards (EBU R128, ATSC A/85) expect the delivered file
//! itself to be on target, within their true-peak maximum. The figures are the published
//! reference levels; the services' exact algorithms are not public and change over time.

use crate::measure::Measurement;

/// One platform's or standard's normalisation rule.
#[derive(Clone, Copy, Debug)]
pub struct Platform {
    /// Name shown in the table.
    pub name: &'static str,
    /// Reference loudness, LUFS.
    pub target_lufs: f64,
    /// Whether quiet masters are turned up.
    pub raises: bool,
    /// The true peak the platform keeps raised masters under, and the maximum a delivery may
    /// have (standards), dBTP.
    pub max_true_peak_dbtp: f64,
    /// A standard that expects the file itself on target (the "gain" is what the master lacks).
    pub standard: bool,
}

/// The platforms and standards in the table.
pub const PLATFORMS: &[Platform] = &[
    Platform {
        name: "Spotify",
        target_lufs: -14.0,
        raises: true,
        max_true_peak_dbtp: -1.0,
        standard: false,
    },
    Platform {
        name: "Apple Music",
        target_lufs: -16.0,
        raises: true,
        max_true_peak_dbtp: -1.0,
        standard: false,
    },
    Platform {
        name: "YouTube",
        target_lufs: -14.0,
        raises: false,
        max_true_peak_dbtp: -1.0,
        standard: false,
    },
    Platform {
        name: "Amazon Music",
        target_lufs: -14.0,
        raises: false,
        max_true_peak_dbtp: -2.0,
        standard: false,
    },
    Platform {
        name: "Tidal",
        target_lufs: -14.0,
        raises: false,
        max_true_peak_dbtp: -1.0,
        standard: false,
    },
    Platform {
        name: "EBU R128",
        target_lufs: -23.0,
        raises: true,
        max_true_peak_dbtp: -1.0,
        standard: true,
    },
    Platform {
        name: "ATSC A/85",
        target_lufs: -24.0,
        raises: true,
        max_true_peak_dbtp: -2.0,
        standard: true,
    },
];

/// One row of the delivery table.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Platform or standard.
    pub name: &'static str,
    /// Its reference loudness, LUFS.
    pub target_lufs: f64,
    /// The gain it applies (platforms) or the master needs (standards), dB.
    pub gain_db: f64,
    /// The true peak after that gain, dBTP.
    pub true_peak_dbtp: f64,
    /// Over the platform's or standard's true-peak maximum.
    pub over: bool,
}

/// The delivery table for a master, or nothing when it has no defined loudness (silence).
pub fn table(m: &Measurement) -> Vec<Row> {
    let (Some(l), Some(tp)) = (m.integrated_lufs, m.true_peak_dbtp) else {
        return Vec::new();
    };
    PLATFORMS
        .iter()
        .map(|p| {
            let mut gain = p.target_lufs - l;
            if gain > 0.0 && !p.standard {
                gain = if p.raises {
                    gain.min((p.max_true_peak_dbtp - tp).max(0.0))
                } else {
                    0.0
                };
            }
            let peak = tp + gain;
            Row {
                name: p.name,
                target_lufs: p.target_lufs,
                gain_db: gain,
                true_peak_dbtp: peak,
                over: peak > p.max_true_peak_dbtp + 0.005,
            }
        })
        .collect()
}

/// The table as text for the render summary.
pub fn to_text(rows: &[Row]) -> String {
    let mut s = String::from("  delivery (normalisation each would apply):\n");
    for r in rows {
        s.push_str(&format!(
            "    {:<13} {:>4.0} LUFS  gain {:+6.2} dB  true peak {:+6.2} dBTP{}\n",
            r.name,
            r.target_lufs,
            r.gain_db,
            r.true_peak_dbtp,
            if r.over { "  OVER" } else { "" }
        ));
    }
    s.pop();
    s
}

/// The table as a JSON array.
pub fn to_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":{},\"target_lufs\":{},\"gain_db\":{:.3},\"true_peak_dbtp\":{:.3},\"over\":{}}}",
                crate::measure::json_string(r.name),
                r.target_lufs,
                r.gain_db,
                r.true_peak_dbtp,
                r.over
            )
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(l: f64, tp: f64) -> Measurement {
        Measurement {
            integrated_lufs: Some(l),
            true_peak_dbtp: Some(tp),
            ..Default::default()
        }
    }

    #[test]
    fn loud_masters_are_turned_down_quiet_ones_up_within_the_peak_limit() {
        let t = table(&m(-9.0, -0.5));
        let spotify = &t[0];
        assert_eq!(spotify.gain_db, -5.0);
        assert!((spotify.true_peak_dbtp - -5.5).abs() < 1e-12 && !spotify.over);
        // A quiet master: Spotify raises it until the true peak reaches −1 dBTP; YouTube does not.
        let t = table(&m(-20.0, -4.0));
        assert!((t[0].gain_db - 3.0).abs() < 1e-12 && !t[0].over);
        assert_eq!(t[2].gain_db, 0.0);
        // EBU R128 wants the file at −23: a −20 LUFS master with −0.5 dBTP needs −3 dB, fine; a
        // −30 LUFS master with −3 dBTP would peak at +4 dBTP when brought up: over.
        let t = table(&m(-30.0, -3.0));
        let ebu = t.iter().find(|r| r.name == "EBU R128").unwrap();
        assert!((ebu.gain_db - 7.0).abs() < 1e-12 && ebu.over);
        // A master over −1 dBTP that no platform turns down far enough is over everywhere it is
        // left alone.
        let t = table(&m(-16.0, 0.5));
        assert!(t.iter().find(|r| r.name == "YouTube").unwrap().over);
    }
}
