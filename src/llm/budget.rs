//! The daily token budget, for the whole server: the calls made in every database are paid
//! from one ledger in shared memory, kept in a file of the data directory across restarts.
//!
//! A call reserves what it may spend before it is made (its prompt, estimated, and the answer's
//! `optischema.llm_max_tokens`) and settles with what the endpoint reported. A call is made
//! only while the day's spent and reserved tokens are under the budget, so calls made at once
//! from several databases overrun it by no more than the single call one worker could.

use crate::settings;
use crate::shmem::Shared;
use pgrx::spi;

/// Where the day's figure is kept, relative to the data directory (every backend's cwd).
const FILE: &str = "optischema_tokens";

/// The day's tokens. Plain data: zero is "nothing spent on day 0, not loaded".
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Ledger {
    /// The UTC day `used` counts, in days since 1970-01-01.
    day: i64,
    used: i64,
    /// Tokens promised to calls under way.
    reserved: i64,
    /// What was spent before the server started was read in.
    loaded: bool,
}

impl Ledger {
    /// A new UTC day starts with nothing spent (calls under way keep their reservations).
    fn roll(&mut self, today: i64) {
        if self.day != today {
            self.day = today;
            self.used = 0;
        }
    }

    pub fn used(&mut self, today: i64) -> i64 {
        self.roll(today);
        self.used
    }

    /// Promises `tokens` to a call, unless what is spent and promised already reaches `budget`;
    /// then Err with the tokens spent today.
    pub fn reserve(&mut self, today: i64, budget: i64, tokens: i64) -> Result<(), i64> {
        self.roll(today);
        if self.used + self.reserved >= budget {
            return Err(self.used);
        }
        self.reserved += tokens.max(0);
        Ok(())
    }

    /// A call ended: its promise is withdrawn and what it spent is counted.
    pub fn settle(&mut self, today: i64, reserved: i64, spent: i64) {
        self.reserved = (self.reserved - reserved.max(0)).max(0);
        self.roll(today);
        self.used += spent.max(0);
    }

    /// After a start: the day kept in the file, and what this database recorded of today's
    /// calls (a lower bound when the file is lost), whichever is more.
    pub fn load(&mut self, today: i64, kept: Option<(i64, i64)>, recorded_here: i64) {
        self.roll(today);
        if let Some((day, used)) = kept {
            if day == today {
                self.used = self.used.max(used);
            }
        }
        self.used = self.used.max(recorded_here);
        self.loaded = true;
    }

    /// The file's text: the day and its tokens.
    fn kept(&self) -> String {
        format!("{} {}\n", self.day, self.used)
    }
}

/// Reads the file's text back; None when it is not two numbers.
pub fn parse_kept(text: &str) -> Option<(i64, i64)> {
    let mut fields = text.split_whitespace().map(str::parse::<i64>);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(day)), Some(Ok(used)), None) if used >= 0 => Some((day, used)),
        _ => None,
    }
}

static LEDGER: Shared<Ledger> = unsafe {
    // numbers and a bool
    Shared::new(c"optischema token budget", |_| {})
};

/// Asks for the ledger's shared memory. Called from `_PG_init` while preloading.
pub fn install() {
    LEDGER.install();
}

/// The UTC day, in days since 1970-01-01.
fn today() -> i64 {
    (crate::clock::epoch_s() / 86_400) as i64
}

/// This database's record of today's calls.
fn recorded_here() -> spi::Result<i64> {
    Ok(pgrx::Spi::get_one::<i64>(include_str!("../../sql/llm/tokens_today.sql"))?.unwrap_or(0))
}

/// Reads in, once after a start, what was spent today before it.
fn load() -> spi::Result<()> {
    if LEDGER.shared(|l| l.loaded) != Some(false) {
        return Ok(());
    }
    let kept = std::fs::read_to_string(FILE)
        .ok()
        .and_then(|text| parse_kept(&text));
    let here = recorded_here()?;
    LEDGER.exclusive(|l| {
        if !l.loaded {
            l.load(today(), kept, here)
        }
    });
    Ok(())
}

/// Tokens spent today by the whole server (by this database alone when the library was not
/// preloaded, and no ledger exists).
pub fn used_today() -> spi::Result<i64> {
    load()?;
    match LEDGER.exclusive(|l| l.used(today())) {
        Some(used) => Ok(used),
        None => recorded_here(),
    }
}

/// Tokens promised to a call; given back, with what it spent, by [`Reservation::settle`] (or
/// with nothing spent if the call is dropped before it was made).
#[derive(Debug)]
pub struct Reservation {
    tokens: i64,
    settled: bool,
}

/// Promises `tokens` to a call; Err with the reason when the day's budget is spent.
pub fn reserve(tokens: i64) -> spi::Result<Result<Reservation, String>> {
    load()?;
    let budget = settings::LLM_DAILY_TOKEN_BUDGET.get() as i64;
    let refused = |used: i64| {
        format!(
            "the daily token budget is spent ({used} of {budget} tokens today, calls under way included)"
        )
    };
    Ok(
        match LEDGER.exclusive(|l| l.reserve(today(), budget, tokens)) {
            Some(Ok(())) => Ok(Reservation {
                tokens,
                settled: false,
            }),
            Some(Err(used)) => Err(refused(used)),
            // not preloaded: this database's record is all there is
            None => {
                let used = recorded_here()?;
                if used >= budget {
                    Err(refused(used))
                } else {
                    Ok(Reservation {
                        tokens: 0,
                        settled: true,
                    })
                }
            }
        },
    )
}

impl Reservation {
    /// The call spent `spent` tokens: counted for the day, and kept in the file (written under
    /// the ledger's lock, so that two settling calls cannot leave the older figure behind).
    pub fn settle(&mut self, spent: i64) {
        if self.settled {
            return;
        }
        self.settled = true;
        let tokens = self.tokens;
        LEDGER.exclusive(|l| {
            l.settle(today(), tokens, spent);
            let kept = l.kept();
            let partial = format!("{FILE}.new");
            // a write that fails leaves the old figure: the next settle writes again
            if std::fs::write(&partial, kept).is_ok() {
                let _ = std::fs::rename(&partial, FILE);
            }
        });
    }

    /// Counts every token promised as spent: for a call given up before its answer came, which
    /// the endpoint may have answered and billed all the same.
    pub fn settle_in_full(&mut self) {
        self.settle(self.tokens);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.settle(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_made_while_spent_and_promised_tokens_are_under_the_budget() {
        let mut l = Ledger::default();
        assert_eq!(l.reserve(100, 1000, 600), Ok(()));
        // a second call while the first is under way: 0 spent + 600 promised < 1000
        assert_eq!(l.reserve(100, 1000, 600), Ok(()));
        // a third: 1200 promised
        assert_eq!(l.reserve(100, 1000, 600), Err(0));
        l.settle(100, 600, 450);
        l.settle(100, 600, 500);
        assert_eq!(l.used(100), 950);
        assert_eq!(l.reserved, 0);
        assert_eq!(l.reserve(100, 1000, 600), Ok(()));
        l.settle(100, 600, 100);
        assert_eq!(l.reserve(100, 1000, 1), Err(1050));
    }

    #[test]
    fn a_new_day_starts_from_nothing_and_keeps_calls_under_way() {
        let mut l = Ledger::default();
        l.reserve(100, 1000, 300).unwrap();
        l.settle(100, 300, 999);
        l.reserve(100, 1000, 300).unwrap();
        assert_eq!(l.used(101), 0);
        // the call that started yesterday ends today: its tokens count today
        l.settle(101, 300, 200);
        assert_eq!((l.day, l.used, l.reserved), (101, 200, 0));
    }

    #[test]
    fn a_start_reads_the_kept_day_or_this_databases_record() {
        let mut l = Ledger::default();
        l.load(100, Some((100, 5000)), 1200);
        assert_eq!((l.used(100), l.loaded), (5000, true));
        // a file from another day counts for nothing; this database's record is a floor
        let mut l = Ledger::default();
        l.load(100, Some((99, 5000)), 1200);
        assert_eq!(l.used(100), 1200);
        let mut l = Ledger::default();
        l.load(100, None, 0);
        assert_eq!(l.used(100), 0);
    }

    #[test]
    fn the_kept_file_reads_back_and_anything_else_is_ignored() {
        let mut l = Ledger::default();
        l.reserve(20500, 10, 5).unwrap();
        l.settle(20500, 5, 7);
        assert_eq!(parse_kept(&l.kept()), Some((20500, 7)));
        for bad in ["", "20500", "20500 x", "20500 -3", "1 2 3", "day used"] {
            assert_eq!(parse_kept(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_settle_never_leaves_a_negative_promise() {
        let mut l = Ledger::default();
        l.settle(100, 500, -4);
        assert_eq!((l.used, l.reserved), (0, 0));
    }
}
