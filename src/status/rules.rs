//! The health rules of the status page (and `authsense status`): each
//! gateway gets green, yellow or red, with the rule that set it.
//!
//! The first matching rule wins, red before yellow. What they watch: a
//! gateway that stopped sending copies, and the perimeter's stamping — a
//! rising share of copies without a trusted X-Agari header, with an
//! unexpanded `${SPFResult}` or with no SPF result at all means the milter
//! or the vendor rule that copies its result broke.

use crate::store::GatewayStatus;
use serde::Serialize;

/// No copy for this long (minutes) is red: the gateway stopped sending.
pub const SILENT_RED_MINUTES: i64 = 60;
/// No copy for this long (minutes) is yellow.
pub const SILENT_YELLOW_MINUTES: i64 = 15;
/// Share of copies without usable trusted results that is red.
pub const BROKEN_RED: f64 = 0.5;
/// Share of copies without usable trusted results that is yellow.
pub const BROKEN_YELLOW: f64 = 0.1;
/// Share of copies falling back to Authentication-Results that is yellow.
pub const FALLBACK_YELLOW: f64 = 0.5;
/// Share of copies with a stamp that cannot be believed that is red (one
/// such copy is already yellow).
pub const TAMPERED_RED: f64 = 0.1;

/// A traffic light.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Copies arrive with trusted X-Agari results.
    Green,
    /// Worth a look.
    Yellow,
    /// Stamping or copying is broken.
    Red,
}

impl State {
    /// `green`, `yellow` or `red` (also the page's CSS class).
    pub fn as_str(self) -> &'static str {
        match self {
            State::Green => "green",
            State::Yellow => "yellow",
            State::Red => "red",
        }
    }
}

/// A gateway's state and the rule that set it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    /// The state.
    pub state: State,
    /// The rule, for a human (e.g. "62% of copies lack trusted results").
    pub rule: String,
}

/// Applies the rules to one gateway.
pub fn assess(g: &GatewayStatus) -> Assessment {
    let silent_min = (g.now_ms - g.last_seen_ms).max(0) / 60_000;
    let pct = |part| (g.share(part) * 100.0).round();
    let verdict = |state, rule: String| Assessment { state, rule };
    if silent_min >= SILENT_RED_MINUTES || g.total == 0 {
        return verdict(
            State::Red,
            format!("no copy for {silent_min} min (red at {SILENT_RED_MINUTES})"),
        );
    }
    if g.tampered > 0 {
        let state = if g.share(g.tampered) >= TAMPERED_RED {
            State::Red
        } else {
            State::Yellow
        };
        return verdict(
            state,
            format!(
                "{} of {} copies carried a stamp that cannot be believed (unsealed or broken; \
                 see auth.tamper): is the milter down, or its seal key not the sensor's?",
                g.tampered, g.total
            ),
        );
    }
    let broken = g.share(g.broken);
    if broken >= BROKEN_RED {
        return verdict(
            State::Red,
            format!(
                "{}% of copies lack trusted SPF results (red at {}%): perimeter stamping broken?",
                pct(g.broken),
                BROKEN_RED * 100.0
            ),
        );
    }
    if silent_min >= SILENT_YELLOW_MINUTES {
        return verdict(
            State::Yellow,
            format!("no copy for {silent_min} min (yellow at {SILENT_YELLOW_MINUTES})"),
        );
    }
    if broken >= BROKEN_YELLOW {
        return verdict(
            State::Yellow,
            format!(
                "{}% of copies lack trusted SPF results (yellow at {}%)",
                pct(g.broken),
                BROKEN_YELLOW * 100.0
            ),
        );
    }
    if g.share(g.authentication_results) >= FALLBACK_YELLOW {
        return verdict(
            State::Yellow,
            format!(
                "{}% of copies fall back to Authentication-Results (yellow at {}%)",
                pct(g.authentication_results),
                FALLBACK_YELLOW * 100.0
            ),
        );
    }
    verdict(
        State::Green,
        format!(
            "{}% of copies carry trusted X-Agari results",
            pct(g.x_agari)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gw(total: u64, xa: u64, ar: u64, broken: u64, silent_min: i64) -> GatewayStatus {
        GatewayStatus {
            gateway_ip: "192.0.2.1".into(),
            now_ms: 10_000_000,
            last_seen_ms: 10_000_000 - silent_min * 60_000,
            window_minutes: 60,
            total,
            x_agari: xa,
            authentication_results: ar,
            broken,
            ..GatewayStatus::default()
        }
    }

    #[test]
    fn rules_in_order() {
        for (g, state, words) in [
            (gw(10, 10, 0, 0, 0), State::Green, "100% of copies carry"),
            (gw(10, 9, 0, 1, 0), State::Yellow, "10% of copies lack"),
            (gw(10, 5, 0, 5, 0), State::Red, "50% of copies lack"),
            (gw(10, 4, 6, 0, 1), State::Yellow, "60% of copies fall back"),
            (gw(10, 10, 0, 0, 20), State::Yellow, "no copy for 20 min"),
            (gw(0, 0, 0, 0, 70), State::Red, "no copy for 70 min"),
            (gw(10, 0, 0, 10, 20), State::Red, "100% of copies lack"),
            (
                GatewayStatus {
                    tampered: 1,
                    ..gw(20, 19, 0, 1, 0)
                },
                State::Yellow,
                "1 of 20 copies carried a stamp that cannot be believed",
            ),
            (
                GatewayStatus {
                    tampered: 2,
                    ..gw(20, 18, 0, 2, 0)
                },
                State::Red,
                "2 of 20 copies",
            ),
        ] {
            let a = assess(&g);
            assert_eq!(a.state, state, "{a:?}");
            assert!(a.rule.contains(words), "{a:?} lacks {words:?}");
        }
    }
}
