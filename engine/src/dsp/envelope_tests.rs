//! Tests for the ADSR envelope.

use super::*;

const SR: f32 = 48_000.0;

fn db(x: f32) -> f32 {
    20.0 * x.log10()
}

#[test]
fn gate_takes_effect_at_the_exact_sample() {
    for offset in [0usize, 1, 37, 63] {
        let mut env = Adsr::new(SR);
        env.set_params(1.0, 50.0, 0.5, 50.0);
        env.gate_on_at(offset, 1.0);
        let mut out = [0.0f32; 64];
        env.process(&mut out);
        assert!(out[..offset].iter().all(|&v| v == 0.0), "offset {offset}");
        assert_eq!(out[offset], 1.0 / 48.0, "offset {offset}");
    }
    // A gate-off: the gate-off sample is the first one below the sustain level.
    let mut env = Adsr::new(SR);
    env.set_params(0.0, 0.0, 0.5, 100.0);
    env.gate_on(0.8);
    let mut out = [0.0f32; 64];
    env.gate_off_at(20);
    env.process(&mut out);
    assert_eq!(out[0], 0.8, "zero attack: the gate sample is the peak");
    assert!(out[1..20].iter().all(|&v| v == 0.4), "{:?}", &out[..21]);
    assert!(out[20] < 0.4 && out[20] > 0.39);
}

#[test]
fn scheduled_gates_carry_over_and_are_block_size_independent() {
    let render = |block: usize| -> Vec<f32> {
        let mut env = Adsr::new(SR);
        env.set_params(2.0, 30.0, 0.6, 40.0);
        let mut out = vec![0.0f32; 9600];
        // Gates at absolute samples 100 (on), 3000 (off), 3050 (on, retrigger in release),
        // 6000 (off), all scheduled at the start and carried over from block to block.
        env.gate_on_at(100, 1.0);
        env.gate_off_at(3000);
        env.gate_on_at(3050, 0.7);
        env.gate_off_at(6000);
        for chunk in out.chunks_mut(block) {
            env.process(chunk);
        }
        out
    };
    let reference = render(9600);
    assert!(reference[..100].iter().all(|&v| v == 0.0) && reference[100] > 0.0);
    for block in [1, 17, 64, 512] {
        assert_eq!(render(block), reference, "block {block}");
    }
    // No click on the retrigger: the level moves at most one attack step per sample.
    let max_jump = reference
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0.0, f32::max);
    assert!(max_jump <= 1.0 / 96.0 + 1e-6, "jump {max_jump}");
}

#[test]
fn attack_reaches_the_peak_at_attack_ms() {
    let mut env = Adsr::new(SR);
    env.set_params(10.0, 100.0, 0.5, 100.0);
    env.gate_on(1.0);
    let mut out = vec![0.0f32; 1000];
    env.process(&mut out);
    // 10 ms = 480 samples: sample 479 (the 480th of the attack) is the peak.
    assert_eq!(out[479], 1.0);
    assert!(out[478] < 1.0 && (out[239] - 0.5).abs() < 1e-6);
    assert!(out[480] < 1.0, "decay starts right after the peak");
    let rise: Vec<f32> = out[..480].windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        rise.iter().all(|d| (d - 1.0 / 480.0).abs() < 1e-6),
        "linear attack"
    );
}

#[test]
fn decay_and_release_fall_60_db_in_their_times() {
    let mut env = Adsr::new(SR);
    env.set_params(0.0, 50.0, 0.5, 100.0);
    env.gate_on(1.0);
    let mut out = vec![0.0f32; 48_000];
    env.process(&mut out[..10_000]);
    // Decay: sample 0 is the peak; 50 ms (2400 samples) later the distance to 0.5 is −60 dB.
    let dist_db = db((out[2400] - 0.5) / 0.5);
    assert!((dist_db + 60.0).abs() < 0.05, "decay distance {dist_db} dB");
    assert_eq!(env.stage(), EnvelopeStage::Sustain);
    assert_eq!(out[9_999], 0.5);
    // Release from 0.5: the gate-off sample is the first release sample, so 100 ms = 4800
    // samples later (index 4799) the level is exactly −60 dB below the sustain level.
    env.gate_off();
    env.process(&mut out);
    let rel_db = db(out[4799] / 0.5);
    println!("decay distance at 50 ms {dist_db:.3} dB, release at 100 ms {rel_db:.3} dB");
    assert!((rel_db + 60.0).abs() < 0.01, "release {rel_db} dB");
    // Idle once below −100 dBFS: 0.5 → 1e-5 is 94 dB, i.e. 156.6 ms.
    let idle_at = out.iter().position(|&v| v == 0.0).unwrap();
    assert!((7510..7530).contains(&idle_at), "idle at {idle_at}");
    assert!(env.is_idle());
}

#[test]
fn one_shot_ignores_gate_off_and_goes_idle() {
    let mut env = Adsr::new(SR);
    env.set_params(0.0, 200.0, 0.8, 10.0);
    env.set_one_shot(true);
    env.gate_on_at(10, 1.0);
    env.gate_off_at(11);
    let mut out = vec![0.0f32; 24_000];
    env.process(&mut out);
    assert_eq!(out[10], 1.0);
    // 200 ms (9600 samples) after the peak: −60 dB; no sustain, gate-off ignored.
    assert!((db(out[10 + 9600]) + 60.0).abs() < 0.05);
    assert!(env.is_idle());
    assert!(out[23_999] == 0.0);
}

#[test]
fn sustain_zero_goes_idle_and_bad_params_do_not_panic() {
    let mut env = Adsr::new(SR);
    env.set_params(f32::NAN, -3.0, f32::INFINITY, f32::NAN);
    env.gate_on(f32::NAN);
    let mut out = [0.0f32; 256];
    env.process(&mut out);
    assert!(out.iter().all(|v| v.is_finite()));
    env.set_params(1.0, 20.0, 0.0, 20.0);
    env.gate_on(2.0); // clamped to 1
    let mut out = vec![0.0f32; 4800];
    env.process(&mut out);
    assert_eq!(out.iter().fold(0.0f32, |m, &v| m.max(v)), 1.0);
    assert!(env.is_idle(), "decayed to 0 with the gate still on");
    // More scheduled gates than slots: the extra ones act at once, nothing panics.
    for k in 0..(MAX_PENDING_GATES + 3) {
        env.gate_on_at(k, 1.0);
    }
    env.process(&mut out[..4]);
}
