//! The assurance tier as a type: what a key proves about where it lives.
//! Stored and shown as its number (1-3), which the audit log, the console
//! and the configuration use; in code it is one of three values, so a tier
//! 0 or 7 cannot be asked for.

use std::fmt;

/// An assurance tier. Ordered: a higher tier satisfies a lower minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// 1: any valid passkey, synced ones included.
    AnyPasskey,
    /// 2: device-bound (BE=0), created with user verification.
    DeviceBound,
    /// 3: device-bound on attested, FIDO-certified hardware with no adverse
    /// status report.
    AttestedHardware,
}

impl Tier {
    /// The tier numbered `n`, if there is one.
    pub const fn from_number(n: i64) -> Option<Tier> {
        match n {
            1 => Some(Tier::AnyPasskey),
            2 => Some(Tier::DeviceBound),
            3 => Some(Tier::AttestedHardware),
            _ => None,
        }
    }

    /// Its number, as stored and shown.
    pub const fn number(self) -> i64 {
        match self {
            Tier::AnyPasskey => 1,
            Tier::DeviceBound => 2,
            Tier::AttestedHardware => 3,
        }
    }

    /// Whether a stored tier number reaches this tier.
    pub const fn reached_by(self, stored: i64) -> bool {
        stored >= self.number()
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.number())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_nothing_else_is_a_tier() {
        for n in 1..=3 {
            assert_eq!(Tier::from_number(n).map(Tier::number), Some(n));
        }
        for n in [i64::MIN, -1, 0, 4, 7, i64::MAX] {
            assert_eq!(Tier::from_number(n), None);
        }
        assert!(Tier::AnyPasskey < Tier::DeviceBound);
        assert!(Tier::DeviceBound.reached_by(3));
        assert!(!Tier::AttestedHardware.reached_by(2));
        assert_eq!(Tier::DeviceBound.to_string(), "2");
    }
}
