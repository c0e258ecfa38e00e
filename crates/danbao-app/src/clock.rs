//! Time is injected: the server uses the system clock, tests move a `TestClock`.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

pub trait Clock: Send + Sync + 'static {
    /// Milliseconds since the Unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let now = time::OffsetDateTime::now_utc();
        i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
    }
}

/// A clock that only moves when a test says so.
#[derive(Clone)]
pub struct TestClock(Arc<AtomicI64>);

impl TestClock {
    pub fn new(start_ms: i64) -> TestClock {
        TestClock(Arc::new(AtomicI64::new(start_ms)))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text for a timestamp, as every API response shows times.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The zone pages show times in unless the operator names another: China Standard Time,
/// where the platform's buyers and sellers are.
pub const DEFAULT_DISPLAY_ZONE: &str = "Asia/Shanghai";

static DISPLAY_ZONE: std::sync::OnceLock<jiff::tz::TimeZone> = std::sync::OnceLock::new();

/// An IANA time zone name (`Asia/Shanghai`, `Asia/Hong_Kong`, `America/New_York`) that
/// the embedded zone database does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {0:?} (an IANA name such as Asia/Shanghai)")]
pub struct UnknownZone(pub String);

/// Looks a zone up by its IANA name in the database built into the binary (no reliance on
/// the host's /usr/share/zoneinfo).
pub fn zone(name: &str) -> Result<jiff::tz::TimeZone, UnknownZone> {
    jiff::tz::TimeZone::get(name).map_err(|_| UnknownZone(name.to_string()))
}

/// Sets the zone every page of this process shows times in (`danbao serve --time-zone`),
/// once, at start; false when it was already set (to another zone). A server is one
/// process, so this is the operator's setting for the whole site.
pub fn set_display_zone(tz: jiff::tz::TimeZone) -> bool {
    DISPLAY_ZONE.set(tz.clone()).is_ok() || DISPLAY_ZONE.get() == Some(&tz)
}

/// The zone pages show times in.
pub fn display_zone() -> &'static jiff::tz::TimeZone {
    DISPLAY_ZONE.get_or_init(|| zone(DEFAULT_DISPLAY_ZONE).unwrap_or(jiff::tz::TimeZone::fixed(jiff::tz::offset(8))))
}

/// The display zone's name as configured (`Asia/Shanghai`).
pub fn display_zone_name() -> &'static str {
    display_zone().iana_name().unwrap_or(DEFAULT_DISPLAY_ZONE)
}

/// A time as a person reads it on a page, `2026-12-02 09:25:50`, in the display zone.
pub fn display_time(ms: i64) -> String {
    display_time_in(ms, display_zone())
}

/// A time as shown in a given zone (summer time included where the zone has it).
pub fn display_time_in(ms: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Parses an RFC 3339 time into ms since the epoch.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test that fails to set up fails
mod tests {
    use super::*;

    // 2026-12-02T01:25:50Z and 2026-07-01T12:00:00Z.
    const WINTER_MS: i64 = 1_796_174_750_000;
    const SUMMER_MS: i64 = 1_782_907_200_000;

    #[test]
    fn times_are_shown_in_the_zone_asked_for() {
        let shanghai = zone("Asia/Shanghai").unwrap();
        assert_eq!(display_time_in(WINTER_MS, &shanghai), "2026-12-02 09:25:50");
        let tokyo = zone("Asia/Tokyo").unwrap();
        assert_eq!(display_time_in(WINTER_MS, &tokyo), "2026-12-02 10:25:50");
    }

    #[test]
    fn a_zone_with_summer_time_moves_its_clock() {
        let new_york = zone("America/New_York").unwrap();
        assert_eq!(display_time_in(WINTER_MS, &new_york), "2026-12-01 20:25:50");
        assert_eq!(display_time_in(SUMMER_MS, &new_york), "2026-07-01 08:00:00");
    }

    #[test]
    fn an_unknown_zone_is_refused_by_name() {
        let err = zone("Mars/Olympus_Mons").unwrap_err();
        assert!(err.to_string().contains("Mars/Olympus_Mons"), "{err}");
    }

    #[test]
    fn the_default_display_zone_is_shanghai() {
        assert_eq!(DEFAULT_DISPLAY_ZONE, "Asia/Shanghai");
        assert!(zone(DEFAULT_DISPLAY_ZONE).is_ok());
    }
}
